"""How a message leaves: the providers (email through Django's mailer, SMS through Twilio or a
development backend, JSON webhooks), what they can answer (errors.py), and the retry rules
every outbox shares (retry.py). Playbooks decide *when* a customer may be written to;
messaging decides *how* a message goes, once."""
