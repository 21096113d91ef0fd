"""Nakama's wire conventions and API types, in one place.

Everything a client sees passes through here, whichever way it travels (REST, the socket, or a
server module's `nk` call):

- `codec`: JSON encoding, default-omission (protojson's `EmitUnpopulated=false`), timestamps, JSON
  documents carried as strings;
- `fields`: reading request fields leniently (snake_case or lowerCamelCase, int64 as string or
  number, wrapper types bare or as `{"value": x}`), with one wording for every type error;
- `paging`: list limits with Nakama's messages and the one opaque cursor codec;
- `methods`: the names of Nakama's API methods and socket messages, and which this server serves;
- `types`: the API records the domain (`kizuna/core`) returns;
- `encode`: one encoder per API type, for REST and socket output (`full=False`) and for `nk`
  results (`full=True`: every field present, JSON documents decoded).

This package imports nothing of Kizuna but `kizuna.errors`: the domain and every transport depend
on it, never the other way round.
"""
