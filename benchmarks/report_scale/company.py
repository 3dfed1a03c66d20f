"""The seeded company: its size, departments, objectives and words, and who is who (a CEO,
VPs, directors and teams of uneven size, some below five)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from bot.domain import Role

MEMBERS = 5_000
WEEKS = 52
BATCH = 20_000
SEED = 20_261_123

DEPARTMENTS = (
    "Support",
    "Sales",
    "Engineering",
    "Product",
    "Marketing",
    "Operations",
    "Finance",
    "People",
)
DIRECTORS_PER_VP = 5
TEAMS_PER_DIRECTOR = 10
# key, title, KPI, weight among content and ideas; the last one is new and rarely used, so that
# in one department's rollup it has too few people to be shown apart.
OBJECTIVES = (
    ("reply-1h", "Answer every customer within one hour", "median first reply", 14),
    ("fix-first-time", "Fix it the first time", "reopened tickets", 10),
    ("no-surprise-bills", "No surprise on the invoice", "billing complaints", 8),
    ("onboard-7d", "Customers live within 7 days", "days to go-live", 9),
    ("uptime", "99.95 % uptime", "monthly availability", 7),
    ("nps-50", "NPS above 50", "NPS", 9),
    ("renewals", "Renew 95 % of accounts", "gross retention", 6),
    ("docs", "Docs that answer the question", "docs deflection", 5),
    ("accessibility", "Usable by everyone", "WCAG issues open", 3),
    ("green-ops", "Halve our carbon per customer", "kg CO2e per account", 2),
    ("security", "No customer data exposed", "incidents", 4),
    ("pilot-ai", "AI assistant pilot", "pilot accounts", 0.05),
)
NETWORKS = ("linkedin", "x")
EMOJI = ("+1", "tada", "eyes", "heart", "rocket", "thinking_face")
VOICE_SOURCES = ("zendesk", "trustpilot", "nps-survey")
IDEAS = (
    "Let support see the customer's last three invoices next to the ticket",
    "Send a weekly summary of unanswered reviews to each product team",
    "A shared glossary so that sales and support use the same words",
    "Automate the status page when the error rate crosses the threshold",
    "Pair every new hire with a customer call in their first week",
    "Stop asking customers for their account number twice",
)


@dataclass
class Person:
    id: int
    name: str
    role: str
    team_id: int
    department: int
    manager_id: int | None
    platform: str


@dataclass
class Company:
    """Who is who, and the indexes the row generators need."""

    teams: list[tuple[int, str]] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    team_lead: dict[int, int] = field(default_factory=dict)
    department_people: list[list[int]] = field(default_factory=list)
    position: dict[int, int] = field(default_factory=dict)  # a person's index in their department
    ceo: int = 1
    vps: list[int] = field(default_factory=list)
    directors: list[int] = field(default_factory=list)

    def person(self, member_id: int) -> Person:
        return self.people[member_id - 1]


def build_company(rng: random.Random, members: int) -> Company:
    """A CEO, a VP per department, directors, and teams of uneven size (some below five)."""
    company = Company()
    company.department_people = [[] for _ in DEPARTMENTS]

    def add_team(name: str) -> int:
        team_id = len(company.teams) + 1
        company.teams.append((team_id, name))
        return team_id

    def add_person(role: str, team_id: int, department: int, manager_id: int | None) -> int:
        member_id = len(company.people) + 1
        platform = "slack" if rng.random() < 0.7 else "teams"
        name = f"Person {member_id:05d}"
        company.people.append(
            Person(member_id, name, role, team_id, department, manager_id, platform)
        )
        company.position[member_id] = len(company.department_people[department])
        company.department_people[department].append(member_id)
        return member_id

    executive = add_team("Executive")
    company.ceo = add_person(Role.MANAGER, executive, 0, None)
    company.team_lead[executive] = company.ceo
    teams: list[tuple[int, int]] = []  # (team id, department)
    for d, department in enumerate(DEPARTMENTS):
        vp = add_person(Role.MANAGER, executive, d, company.ceo)
        company.vps.append(vp)
        leadership = add_team(f"{department} leadership")
        company.team_lead[leadership] = vp
        for n in range(DIRECTORS_PER_VP):
            director = add_person(Role.MANAGER, leadership, d, vp)
            company.directors.append(director)
            for t in range(TEAMS_PER_DIRECTOR):
                team_id = add_team(f"{department} {n * TEAMS_PER_DIRECTOR + t + 1:02d}")
                company.team_lead[team_id] = add_person(Role.MANAGER, team_id, d, director)
                teams.append((team_id, d))
    weights = [rng.lognormvariate(0, 0.55) for _ in teams]
    for _ in range(members - len(company.people)):
        team_id, d = rng.choices(teams, weights)[0]
        role = Role.EMPLOYEE
        if DEPARTMENTS[d] == "Marketing" and rng.random() < 0.1:
            role = Role.STRATEGIST
        add_person(role, team_id, d, company.team_lead[team_id])
    return company
