"""Surveys: instruments, recurring waves, invitations, the respondent journey, import and export."""
