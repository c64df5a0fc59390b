"""The Reflex RTL chat UI: a client of the server's /api/chat (it never loads the model)."""
