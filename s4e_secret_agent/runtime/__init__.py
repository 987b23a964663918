"""The running agent: one owner for each concern and each outside thing.

- :mod:`.lifecycle`: the process (threads, signal handlers, the shutdown promise); wires the rest
- :mod:`.runner`: the loop; owns the secret cache and the rendered files' state, decides when to
  render, and drives the others
- :mod:`.token`: the Vault token (login, renewal, re-login, sinks, the credential file)
- :mod:`.leases`: pure timing: when to renew, re-read, rotate or log in again
- :mod:`.retry`: the one retry/backoff layer (tenacity)
- :mod:`.writer`: the only code that writes output files
- :mod:`.actions`: what runs after a change (signals, commands)
- :mod:`.supervisor`: process supervisor mode (the app as a child, env_template values)
- :mod:`.watcher`, :mod:`.events`, :mod:`.exit_when`: what wakes the loop

Nothing here imports hvac or requests (that is :mod:`s4e_secret_agent.vault`), nor the operator
tools of :mod:`s4e_secret_agent.tools`.
"""
