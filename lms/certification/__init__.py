"""Certification: eligibility, the practicum log, requests and their review, issued certificates, verification."""
