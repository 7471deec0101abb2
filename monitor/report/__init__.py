"""Every renderer of the same records: terminal, text and JSON; HTML pages; the static report; the web app;
the Atom feed. Templates and static files live beside them."""
