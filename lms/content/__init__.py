"""Reads the course, lesson and program files under courses/ (and checks quiz references under quizzes/).

Pure: no Flask, no database. `load(root)` returns the parsed content and every problem found, each with
the file and line it is about."""

from lms.content.loader import load
from lms.content.model import CodeOfConduct, Content, Course, Lesson, Problem, Program

__all__ = ["CodeOfConduct", "Content", "Course", "Lesson", "Problem", "Program", "load"]
