"""Sprig's template library, as consul-template registers it (``sprig_<name>``).

Vault Agent embeds consul-template, which adds every function of Sprig's ``TxtFuncMap`` under a
``sprig_`` prefix, so migrated templates use them freely. Each module here mirrors one of
Sprig's source files (strings, lists, dicts, numbers, dates, crypto, ...) and is its own
function group: a template calling ``sprig_upper`` loads the string functions and nothing
else, never the certificate or date code.

Behaviour follows Sprig v3.2.3 (the version OpenBao's agent is built with) and the libraries
it wraps, down to the zero values its non-``must`` variants return on bad input and the Go
runtime panic messages text/template turns into errors.
"""
