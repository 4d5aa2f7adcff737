"""The launcher: the ``carbonledger`` command, the demo and the embedded servers.

It sits above every feature (it imports them to register their commands and to run them) and
nothing imports it: the core, the stages and the API stay usable without it.
"""
