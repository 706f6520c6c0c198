"""The corpus's symbol index (`scripts/corpus_symbols.py`) reads a definition whose head spans lines."""

from __future__ import annotations

from scripts.corpus_symbols import definitions

TS = """\
export class PostgresStorageAdapter {
  async updateObjectsByQuery(
    className: string,
    schema: SchemaType,
    query: QueryType,
  ): Promise<[any]> {
    return this.find(className, schema, query);
  }

  deleteAllClasses(fast: boolean) {
    return fast;
  }
}
"""

CSHARP = """\
public class Queries
{
    public async Task ExecuteNonQueryAsync(
        string query,
        params MySqlParameter[] parameters)
    {
        await connection.OpenAsync();
        await ExecuteNonQueryAsync("INSERT INTO ranks (id) " +
            "VALUES (@id)",
            new MySqlParameter("@id", id));
    }
}
"""


def _named(path: str, text: str) -> list[tuple[object, object, object]]:
    return [(d["name"], d["line"], d["end"]) for d in definitions(path, text)]


def test_a_signature_written_one_parameter_a_line_is_a_definition() -> None:
    assert _named("src/Adapter.ts", TS) == [
        ("PostgresStorageAdapter", 1, 13), ("updateObjectsByQuery", 2, 8), ("deleteAllClasses", 10, 12)]  # fmt: skip


def test_a_brace_on_the_line_after_the_head_still_ends_the_definition() -> None:
    assert _named("src/Queries.cs", CSHARP) == [("Queries", 1, 12), ("ExecuteNonQueryAsync", 3, 11)]


def test_a_call_whose_arguments_span_lines_is_no_definition() -> None:
    call = "    void Run() {\n        Notify(\n            a,\n            b);\n    }\n"
    assert [name for name, _, _ in _named("src/Job.java", call)] == ["Run"]
