"""The REST API under /api/v1/ (DRF). Choices made here, also stated in the schema's description:

- Reads are scoped by `demands.selectors`; team-only fields come from separate `Team...`
  serializers, so they are absent (not null) for anyone else.
- Writes call `demands.services`. PUT, PATCH, transitions and evidence citations need the version
  the caller saw, as `If-Match: "<version>"` (the ETag of GET) or `version` in the body: stale →
  412, none → 428. A header precondition is checked before the body is read; the service checks
  again under the row lock, which is what settles two concurrent writes.
- One error shape for every 4xx (exceptions.py); unknown URLs under /api/ answer it too.
- Filters that would reveal team-only facts (`priority_tier`, links to hidden demands) refuse or
  see only what the caller may see.
- Evidence, resolutions, sessions and members are read-only here; they are edited in the admin.
"""
