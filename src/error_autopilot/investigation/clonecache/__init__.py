"""The clone cache kept across runs (`AUTOPILOT_CACHE_DIR`): one clone per repository URL and its
worktrees, made, refreshed and locked safely for several runs sharing one folder (GitPython).

The cache holds one partial clone (`--filter=blob:none`) per repository: a later run fetches what is
new instead of cloning again. History comes without file contents, so clones stay cheap; contents
arrive on checkout, and `prefetch` brings every past version of the files on a stack in one request
before blame reads them. Several runs may share the cache (a self-hosted runner's tool cache), and the
investigate job runs code it does not trust, so the cache is locked per repository and hardened.

One job per module: `cache` (CloneCache, what a run asks of the cache), `lock` (the per-repository
lock, its bounded wait and the private clone past it), `clones` (making, checking, refreshing and
pruning a clone and its worktrees), `prefetch` (the batched fetch of a file's history for blame),
`safegit` (git run with no hooks and no credential written down).

What the server must allow: partial clone (`uploadpack.allowFilter`, on by default at GitHub) for the
blobless clone (a server without it gets a full clone), and fetching an object by its id for the
batch (see `prefetch`).
"""

from error_autopilot.investigation.clonecache.cache import CloneCache
from error_autopilot.investigation.clonecache.clones import Clone
from error_autopilot.investigation.clonecache.lock import LOCK_WAIT_S
from error_autopilot.investigation.clonecache.safegit import host_down, without_credentials

__all__ = ["LOCK_WAIT_S", "Clone", "CloneCache", "host_down", "without_credentials"]
