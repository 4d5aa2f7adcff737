"""Dashboards: Grafana dashboards as code, provisioning files, and pushing them to a server.

Not built yet; the panels will query the tables of ``carbonledger/db/migrations``.
"""
