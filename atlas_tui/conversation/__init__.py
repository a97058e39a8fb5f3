"""A research conversation: its turns, their answers, and how they are recorded."""
