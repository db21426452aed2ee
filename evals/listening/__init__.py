"""Listening tests: MUSHRA (ITU-R BS.1534-3) and blind pairwise preference (win rate).

``build`` turns audio (folders of files, or flowtts synthesis) into a test folder, ``serve`` runs the
listening pages and stores every answer durably, ``analyze`` turns the stored answers into a report.
The records that flow from the store to the analysis are in ``records.py``.
"""
