"""FHIR R4 in and out of the service.

- :mod:`cac.api.fhir.document`: a ``DocumentReference`` with a ``text/plain`` attachment, read
  as a note;
- :mod:`cac.api.fhir.bundle_in`: a ``Bundle`` holding that ``DocumentReference`` and optionally
  its ``Patient`` and ``Encounter`` (setting, age and sex);
- :mod:`cac.api.fhir.bundle_out`: a note's suggestions as a ``Bundle`` of ``Condition`` and
  ``Procedure`` resources, built with the R4B models of ``fhir.resources``;
- :mod:`cac.api.fhir.terms`: the code systems and cac's extension URLs.
"""
