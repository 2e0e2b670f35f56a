"""The district registry: personal records off chain, under the CDC (issue #22).

It holds each vaccinee's personal record and full dose records in an embedded database, every record sealed with
its own AES-GCM key; it co-signs each dose a site records on chain (`cosign`), serves the guardian's pages, issues
school-entry credentials and logs (and anchors on chain) every access to a personal record.
"""
