"""The offline answerer keeps what explains an excerpt with it, and encodes little per question.

Each test is a question a reader would ask of a passage shaped like real documentation (a code
block under its own heading, a reST paragraph ending in " ::", "Here's how:" before the code,
a chunk that begins inside a code block) and checks what the reader then sees.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from atlas_tui.config import Settings
from atlas_tui.generation.extractive import MAX_CANDIDATES, ExtractiveAnswerer, candidates, score
from atlas_tui.generation.prompts import select_passages
from atlas_tui.query import AtlasQuery
from tests.generation.helpers import answer, cited


def test_a_code_block_under_its_heading_is_quoted_with_the_sentence_explaining_it(
    make_passage, encode
) -> None:
    guide = make_passage(
        "Ingesting turns a folder of files into searchable passages in the local index.",
        score=0.9,
    )
    command = make_passage(
        "## The ingest command\n\n"
        "```\natlas-tui ingest PATH [PATH ...] [--db URI] [--json]\n```\n\n"
        "Each `PATH` may be a folder or a single file. `--json` prints a summary.\n\n"
        "## Supported formats\n\nMarkdown, text and PDF files are read.",
        score=0.8,
    )

    text, deltas = answer("How do I ingest a folder?", [guide, command], encode)

    assert (
        "> ```\n> atlas-tui ingest PATH [PATH ...] [--db URI] [--json]\n> ```\n>\n"
        "> Each `PATH` may be a folder or a single file. [2]\n" in text
    )
    assert text.count("Each `PATH` may be a folder") == 1  # not quoted twice
    assert "Supported formats" not in text and "Markdown" not in text
    for citation in (c for d in deltas for c in d.citations):
        assert citation.cited_text in [guide, command][citation.number - 1].text


def test_a_rest_sentence_ending_in_a_detached_double_colon_is_quoted_with_its_code(
    make_passage, encode
) -> None:
    looping = make_passage(
        "When looping through dictionaries, the key and corresponding value can be\n"
        "retrieved at the same time using the items method. ::\n\n"
        "   >>> knights = {'gallahad': 'the pure', 'robin': 'the brave'}\n"
        "   >>> for k, v in knights.items():\n"
        "   ...     print(k, v)\n\n"
        "The order of the keys is the order of insertion."
    )

    text, _deltas = answer(
        "How do I loop over the keys and values of a dictionary together?", [looping], encode
    )

    assert (
        "> When looping through dictionaries, the key and corresponding value can be retrieved "
        "at the same time using the items method.\n>\n> ```\n"
        "> >>> knights = {'gallahad': 'the pure', 'robin': 'the brave'}\n" in text
    )
    assert "::" not in text  # reST's marker is not shown


def test_a_short_lead_in_is_quoted_after_the_sentence_that_says_what_it_shows(
    make_passage, encode
) -> None:
    cookbook = make_passage(
        "Say you want to write log messages to a file, with a timestamp on each line. "
        "Here's how you can achieve this::\n\n"
        "    import logging\n"
        "    logging.basicConfig(filename='app.log', format='%(asctime)s %(message)s')\n"
        "    logging.warning('written to app.log')\n\n"
        "Handlers are covered in the next section."
    )

    text, _deltas = answer("How do I write log messages to a file?", [cookbook], encode)

    assert (
        "> Say you want to write log messages to a file, with a timestamp on each line. "
        "Here's how you can achieve this:\n>\n> ```\n> import logging\n"
        "> logging.basicConfig(filename='app.log', format='%(asctime)s %(message)s')\n" in text
    )


def test_code_that_lost_its_indentation_is_not_quoted_as_a_sentence(make_passage) -> None:
    # A chunk can begin inside an indented code block: its first lines read as a paragraph.
    chunk = make_passage(
        "Logger.info('A log message', file=log_fp) print('Another log message', file=log_fp)\n"
        "logger = logging.getLogger(__name__)\n\n"
        "Each log message is appended to the log file named by the filename argument."
    )

    text, _deltas = answer("How do I append a log message to a file?", [chunk])

    assert "> Each log message is appended to the log file named by the filename argument." in text
    assert "print(" not in text and "getLogger" not in text


def test_a_questions_words_match_the_parts_of_an_identifier(make_passage) -> None:
    passages = [
        make_passage("Dates can be compared with the usual operators.", score=0.8),
        make_passage("Use datetime.strptime(date_string, format) for this.", score=0.6),
    ]

    text, _deltas = answer("How can I parse a date string?", passages)  # terms only, no model

    assert "> Use datetime.strptime(date_string, format) for this. [2]" in text


def test_an_answer_encodes_a_few_short_texts_and_a_later_question_reuses_them(
    make_passage, encode
) -> None:
    sentences = [
        f"Step {n} of the backup copies the {thing} to the archive volume."
        for n, thing in enumerate(["index", "sessions", "settings", "logs", "exports"] * 4)
    ]
    passages = [make_passage(" ".join(sentences[i : i + 5])) for i in range(0, 20, 5)]
    batches: list[list[str]] = []

    def counting(texts: list[str]) -> Any:
        batches.append(list(texts))
        return encode(texts)

    answerer = ExtractiveAnswerer(Settings(), counting)
    list(answerer.stream("How does the backup copy the index?", passages))
    list(answerer.stream("Where does the backup copy the index?", passages))

    first, second = batches
    assert len(first) <= MAX_CANDIDATES + 1  # the question and the best excerpts by terms
    assert all(len(text) <= 200 for text in first)  # excerpts are cut short to encode
    assert second == ["Where does the backup copy the index?"]  # excerpts already encoded


def test_the_query_client_encodes_for_the_answerer_as_the_index_encodes_documents() -> None:
    from atlas_tui.knowledge.embedding import get_embedder

    # fp32: exact whatever the batch. (int8's activations are quantised per batch, so a text's
    # vector moves a little with its batch mates: cosine 0.986 here; benchmarks/RESULTS-encoder.md)
    embedder = get_embedder(encoder="fp32")
    client = AtlasQuery(Settings(), knowledge=SimpleNamespace(embedder=embedder))  # type: ignore[arg-type]
    texts = ["A short sentence.", "A much longer sentence about the archive volume and backups."]

    vectors = client.encode(texts)

    expected = embedder.encode_documents(texts)
    assert len(vectors) == 2
    for vector, reference in zip(vectors, expected, strict=True):
        assert float(vector @ reference) > 0.9999  # the same vectors, one text at a time


def test_a_how_to_question_ranks_the_excerpt_showing_code_above_one_naming_a_call(
    make_passage,
) -> None:
    from atlas_tui.generation.extractive import candidates, score
    from atlas_tui.generation.prompts import select_passages

    passages = [
        make_passage("Rotating the logs with rotate() is slow on old disks.", score=0.6),
        make_passage("To rotate the logs:\n\n```\natlas rotate-logs --keep 7\n```", score=0.6),
    ]
    found = candidates(select_passages(passages, 6000))

    how = score("How do I rotate the logs?", found)
    what = score("What is slow when rotating the logs?", found)

    assert how[0].excerpt.kind == "lead"  # the command, shown
    assert what[0].excerpt.kind == "sentence"


def test_a_how_to_question_is_not_padded_with_unrelated_code(make_passage, encode) -> None:
    passages = [
        make_passage(
            "To rotate the logs, run the rotate-logs command once a week. Old logs are "
            "compressed before they are archived.",
            score=0.9,
        ),
        make_passage(
            "## Weather report\n\n```\nSELECT city, max(temp) FROM weather GROUP BY city\n```\n\n"
            "The query lists the warmest day of each city.",
            score=0.7,
        ),
    ]

    text, deltas = answer("How do I rotate the logs?", passages, encode)

    assert "> To rotate the logs, run the rotate-logs command once a week." in text
    assert "SELECT" not in text and "weather" not in text
    assert cited(deltas) == [1]


def test_prose_in_other_languages_is_still_quoted(make_passage) -> None:
    passage = make_passage(
        "Размер файла указывается в байтах. Дата изменения хранится отдельно от файла."
    )

    text, _deltas = answer("Как указывается размер файла?", [passage])  # by its words

    assert "> Размер файла указывается в байтах. [1]" in text
    assert "Дата" not in text


def test_a_quote_from_an_api_objects_section_names_the_object(make_passage, encode) -> None:
    environ = make_passage(
        "A mapping object where keys and values are strings that represent the process "
        "environment.  For example, environ['HOME'] is the pathname of your home directory.",
        heading="os — Miscellaneous operating system interfaces > os.environ",
    )
    text, deltas = answer("How can I read an environment variable?", [environ], encode)
    assert "> `os.environ`: A mapping object where keys and values are strings" in text
    (first, *_rest) = [c for d in deltas for c in d.citations]
    assert first.cited_text.startswith("A mapping object")  # the cited text stays verbatim
    assert first.cited_text in environ.text


def test_merged_api_sections_name_each_object_they_quote(make_passage, encode) -> None:
    merged = make_passage(
        "gzip.GzipFile.peek(n)\n\nRead n uncompressed bytes without advancing the file "
        "position.\n\ngzip.GzipFile.mtime\n\nThe last modification time field in the stream.",
        heading="gzip — Support for gzip files > class gzip.GzipFile(filename=None)",
    )
    question = "How do I read bytes without moving the file position?"
    text, _deltas = answer(question, [merged], encode)
    assert "> `gzip.GzipFile.peek(n)`: Read n uncompressed bytes without advancing" in text
    assert "mtime" not in text


def test_indented_code_after_a_lead_in_is_quoted_as_code(make_passage, encode) -> None:
    rendered_rest = make_passage(
        "Example of how to read a compressed file:\n\n    import gzip\n"
        "    with gzip.open('/home/joe/file.txt.gz', 'rb') as f:\n"
        "        file_content = f.read()\n",
        heading="gzip — Support for gzip files > Examples of usage",
    )
    text, _deltas = answer("How do I read a gzip file?", [rendered_rest], encode)
    assert "> Example of how to read a compressed file:\n>\n> ```\n> import gzip\n" in text


def test_a_which_question_prefers_the_excerpt_naming_what_it_asks_for(make_passage) -> None:
    passages = [
        make_passage("The help screen lists every key binding of the current screen."),
        make_passage("Press F1 to open the help screen."),
    ]
    chosen = select_passages(passages, Settings().context_token_budget)
    ranked = score("Which key opens the help screen?", candidates(chosen))
    assert ranked[0].excerpt.prose == "Press F1 to open the help screen."
    # the same sentence without a name of its own does not win by it
    plain = [passages[0], make_passage("Press this to open the help screen.")]
    ranked = score("Which key opens the help screen?", candidates(select_passages(plain, 6000)))
    assert ranked[0].excerpt.prose.startswith("The help screen lists")


def test_a_quote_from_a_module_page_names_the_module_unless_it_does(make_passage) -> None:
    intro = make_passage(
        "This module provides a simple way to time small bits of Python code.",
        heading="timeit — Measure execution time of small code snippets",
    )
    text, _deltas = answer("How do I measure the execution time of a small piece of code?", [intro])
    assert "> `timeit`: This module provides a simple way to time small bits" in text
    named = make_passage(
        "Return the length (the number of items) of an object.", heading="Built-ins > len(s)"
    )
    text, _deltas = answer("Which function returns the length of an object?", [named])
    assert "> `len(s)`: Return the length" in text  # "length" does not name len


def test_quotes_from_one_objects_section_name_it_once(make_passage, encode) -> None:
    section = make_passage(
        "Open a gzip-compressed file in binary or text mode, returning a file object.\n\n"
        "The mode argument can be 'rb' for binary mode, or 'rt' for text mode.",
        heading="gzip — Support for gzip files > gzip.open(filename, mode='rb')",
    )
    text, _deltas = answer("How do I open a gzip file in text mode?", [section], encode)
    assert text.count("gzip.open(filename, mode='rb')") == 1
    assert "'rt' for text mode" in text
