"""The completion record: transcripts (page, PDF, API), exports and reports of what trainees did."""
