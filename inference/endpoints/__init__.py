"""Model endpoints: OpenAI-compatible servers (a served checkpoint, or an external model) that stand wherever a
checkpoint stands. models.py is the row (its API key is only ever the NAME of an environment variable),
client.py the HTTP client (no Django), views.py the admin pages."""
