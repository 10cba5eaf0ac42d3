"""The use cases of the application core, each once, named after intent. Each takes the
`Core` (ports), the `Caller` and a typed request, checks the caller (`callers.authorize`)
and returns a typed result. Interfaces only translate their protocol into these calls."""
