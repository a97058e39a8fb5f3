"""A research conversation: the turns on screen, their answers, and the session they are kept in.

`Conversation` (conversation.py) asks, answers again, cancels and switches sessions; each answer is
an `Answer` (answer.py) whose `events()` run in a worker and are recorded as they pass
(recording.py); `Token` (token.py) says whether an answer should stop and whether its events still
count; `ConversationTurn` (turns.py) is a question and its answers as shown; shown.py cleans
untrusted text once, as it enters. The TUI and `atlas-tui ask` both use it; it knows nothing of
Textual.
"""

from atlas_tui.conversation.answer import CANCELLED_BEFORE_START, Answer
from atlas_tui.conversation.conversation import Conversation, Retrieval, SessionRef
from atlas_tui.conversation.library import SessionLibrary
from atlas_tui.conversation.shown import ShownAnswer, ShownPassage, cited_numbers
from atlas_tui.conversation.token import Token
from atlas_tui.conversation.turns import ConversationTurn, source_line, turn_markdown

__all__ = [
    "CANCELLED_BEFORE_START",
    "Answer",
    "Conversation",
    "ConversationTurn",
    "Retrieval",
    "SessionLibrary",
    "SessionRef",
    "ShownAnswer",
    "ShownPassage",
    "Token",
    "cited_numbers",
    "source_line",
    "turn_markdown",
]
