from atlas_tui.safety import terminal_safe


def test_escape_sequences_and_controls_are_removed() -> None:
    hostile = "a\x1b[31mred\x1b[0m \x1b]0;pwned\x07title \x1b[2J\x9b2Jclear\rover\x00\x07"
    assert terminal_safe(hostile) == "ared title clearover"


def test_ordinary_text_is_unchanged() -> None:
    text = "Tabs\tand\nnewlines, [bold]markup[/bold], ünïcödé and emoji 🚀 stay."
    assert terminal_safe(text) == text
