"""The function around an anonymous frame's line is found from its declaration as real code writes it:
return types with generic arguments and spaces (`Map<UUID, Team>`), TypeScript arrows and methods
with return types, Kotlin receivers, C# tuples. Each declaration line is quoted from the repository
named beside it; each look-alike (a call, a comparison, a typed variable) must not be taken for one.
The finder reads every line it walks past, so a megabyte-long minified line must cost one pass."""

from __future__ import annotations

import time

import pytest

from error_autopilot.domain.stack import Language
from error_autopilot.investigation.framenames import enclosing_function

# repository | language | name | the declaration line as written there (leading whitespace kept)
DECLARATIONS = """\
felixmosh/bull-board | node | getStats | const getStats = async (queue: BaseAdapter): Promise<ValidMetrics> => {
Gkiokan/hb-store-cdn-cli-server | node | getPs4PkgInfo | export const getPs4PkgInfo = async (pkgFilePath: string, options?: Options): Promise<Ps4PkgInfo | undefined> => {
Koenkk/zigbee2mqtt | node | getColorCapabilities | const getColorCapabilities = async (endpoint: zh.Endpoint): Promise<{colorTemperature: boolean; colorXY: boolean}> => {
Koenkk/zigbee2mqtt | node | wrappedCallback |         const wrappedCallback = async (...args: never[]): Promise<void> => {
data-fair/data-fair | node | fetchDatasetsById | const fetchDatasetsById = async (ids: Set<string>): Promise<Map<string, DatasetRef>> => {
Kareadita/Kavita | node | defaultEqual |   private defaultEqual = (a: T, b: T): boolean => {
ghostfolio/ghostfolio | node | onTouched |   private onTouched = (): void => {
counterfactual/monorepo | node | resolve |   resolve = (value?: T | PromiseLike<T>): void => {
felixmosh/bull-board | node | getJobs |   public getJobs(jobStatuses: JobStatus[], start?: number, end?: number): Promise<Job[]> {
Kareadita/Kavita | node | confirm |   public async confirm(content?: string, config?: ConfirmConfig): Promise<boolean> {
Arcenox-co/TickerQ | node | deepClone | function deepClone<T>(obj: T): T {
Koenkk/zigbee2mqtt | node | getObjectProperty | function getObjectProperty<T>(object: KeyValue, key: string, defaultValue: NoInfer<T>): T {
booksaw/BetterTeams | jvm | getLevels | \tpublic static Map<Integer, TeamLevel> getLevels() {
LuckPerms/LuckPerms | jvm | detach |     public Map<String, Map<Permissible, Boolean>> detach() {
FasterXML/jackson-databind | jvm | getProperties |         @Override public Map<String, Property> getProperties() {
LuckPerms/LuckPerms | jvm | of |     public static <K, V> LoadingMap<K, V> of(Map<K, V> map, Function<K, V> function) {
apache/kafka | jvm | sorted |     public static <T extends Comparable<? super T>> List<T> sorted(Collection<T> collection) {
Efnilite/Walk-in-the-Park | jvm | calculateParameterization |     private double[][] calculateParameterization(@NotNull Vector point) {
JetBrains/Exposed | jvm | When |     fun <R> When(cond: T, result: Expression<R>): ValueCaseWhen<T, R> {
ktorio/ktor | jvm | checkSerialization |     private inline fun <reified T> checkSerialization(value: T): Pair<T, T> {
LegacyCodeHQ/eureka | jvm | serveVersionText |   private suspend fun PipelineContext<Unit, ApplicationCall>.serveVersionText() {
JetBrains/Exposed | jvm | withScale |         fun <T : BigDecimal?, S : T> DivideOp<T, S>.withScale(scale: Int): DivideOp<T, S> {
CervantesSec/cervantes | dotnet | GetCountBySeverityAsync |     public async Task<Dictionary<string, int>> GetCountBySeverityAsync()
Lidarr/Lidarr | dotnet | GetDictionary |         private async Task<Dictionary<string, string>> GetDictionary(string prefix, string culture, string baseFilename)
BartoszCichecki/LenovoLegionToolkit | dotnet | GetFanSpeedsAsync |     public async Task<(int cpuFanSpeed, int gpuFanSpeed)> GetFanSpeedsAsync()
AlanMorel/MapleServer2 | dotnet | ParseConsume |     private static (int spirit, int stamina) ParseConsume(XmlNode level)
BartoszCichecki/LenovoLegionToolkit | dotnet | ResolveInternalAsync |     private async Task<IFeature<T>?> ResolveInternalAsync()
HangfireIO/Hangfire | dotnet | EnqueuedState |         public EnqueuedState(string reason)
halo-dev/halo | jvm | PostController |     public PostController(PostService postService,
getsentry/sentry-go | go | Store | func (s *SyncMap[K, V]) Store(key K, value V) {
grafana/loki | go | Fetch | func (f FetchFunc[A, B]) Fetch(ctx context.Context, inputs []A) ([]B, error) {
matrix-org/synapse | python | get_table_constraints |     async def get_table_constraints(self) -> Dict[str, Set[str]]:
"""  # noqa: E501


def _rows(table: str) -> list[tuple[str, ...]]:
    return [tuple(row.split(" | ", 3)) for row in table.splitlines()]


@pytest.mark.parametrize(("repository", "language", "name", "declaration"), _rows(DECLARATIONS))
def test_a_line_in_the_body_is_named_after_its_declaration(
    repository: str, language: Language, name: str, declaration: str
) -> None:
    body = declaration[: len(declaration) - len(declaration.lstrip())] + "    "
    lines = [declaration, body + "x = 1", body + "y = 2"]
    assert enclosing_function(lines, 3, language) == name


# A statement that is not a declaration, between a function and a line more indented than the statement:
# the walk passes over it and names the function around both.
OUTER: dict[Language, str] = {
    "node": "function outer() {",
    "jvm": "public void outer() {",
    "dotnet": "public void outer()",
}
# language | a statement that is no declaration (prometheus/prometheus: an arrow passed to `.map` is not `rows`)
LOOK_ALIKES = """\
node |   foo(a, b)
node |   const counts: Map<string, number> = new Map();
node |   const ok = x < y, z > w;
node |   describe('x', () => {
node |   app.get('/x', async (req, res) => {
node |   function (x) {
node |   rows = (limitSeries(data.result) as InstantSample[]).map((s: InstantSample, index: number): ReactNode => {
jvm |   foo(a, b);
jvm |   Map<UUID, Team> teams = getTeams(a, b);
jvm |   boolean ok = x < y, z > w;
jvm |   foo(x < y, z > w(q));
jvm |   new HashMap<UUID, Team>(a);
dotnet |   var x = Foo(a, b);
dotnet |   Task<Dictionary<string, int>> t = GetAsync(key);
dotnet |   await GetAsync(a, b);
dotnet |   (int, string) pair = Make(a, b);
"""


@pytest.mark.parametrize(("language", "statement"), [tuple(row.split(" | ", 1)) for row in LOOK_ALIKES.splitlines()])
def test_a_statement_is_not_taken_for_a_declaration(language: Language, statement: str) -> None:
    lines = [OUTER[language], statement, "      x = 1", "      y = 2"]
    assert enclosing_function(lines, 4, language) == "outer"


HOSTILE = {
    "spaces then a word": " " * 1_000_000 + "x",
    "a colon then spaces": "f(): " + " " * 1_000_000,
    "open angle brackets": "a<" * 500_000,
    "modifiers without end": "public " * 150_000,
    "commas in a generic": "Map<" + "x, " * 330_000,
    "open parentheses": "(" * 1_000_000,
    "parameters without end": "const a = async (" + "b: T, " * 160_000,
    "minified functions": "a=function(){return b(c,d)};" * 36_000,
    "comparisons": "x < y, z > " * 90_000,
    "annotations": "@A(x) " * 160_000,
}


@pytest.mark.parametrize("line", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_megabyte_line_costs_one_pass(line: str) -> None:
    # a backtracking pattern is quadratic here: hours for a megabyte, against well under a second
    for language in ("node", "jvm", "dotnet", "go", "python"):
        started = time.perf_counter()
        enclosing_function([line, "        x"], 2, language)
        assert time.perf_counter() - started < 10, language
