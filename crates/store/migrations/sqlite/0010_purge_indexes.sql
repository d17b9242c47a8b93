-- Expired identity records are purged by background jobs, never on the request path: indexes
-- so each purge finds its rows without scanning.

CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies (expires_at);
CREATE INDEX mfa_tickets_by_expiry ON mfa_tickets (expires_at);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE INDEX security_events_by_age ON security_events (created_at);
