"""Community-session groups: their weekly schedule, lead and co-facilitators, the sessions held, each
facilitator's calendar feed, and the leadership gate (only a facilitator certified today leads)."""
