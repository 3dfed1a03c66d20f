"""Plain async services: each takes a session and the acting member, checks permissions, and
returns domain objects or raises a DomainError with a message a person can act on."""
