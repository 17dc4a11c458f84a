"""The union's campaign as first submitted: categories, demands, the Board resolution, evidence.

Wording, quotes and figures come from the union's statement on the Board's vote of 2024-02-22
(shared/seed/000_cb09d53dd0fc1f4a.txt). Where that statement does not give a fact (a
resolution number, a report's URL or date), the field is left empty rather than guessed.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from .models import (
    Category,
    Demand,
    Evidence,
    EvidenceLink,
    Figure,
    PriorityTier,
    Resolution,
    ResolutionClause,
    Status,
    StatusChange,
    Visibility,
)

CTU = "Chicago Teachers Union"
STATEMENT_DATE = datetime.date(2024, 2, 22)

CATEGORIES = [
    ("trauma-supports", "Trauma supports", "Care for students who have lived through violence and loss."),
    ("restorative-practices", "Restorative practices", "Repairing harm instead of punishing and policing."),
    ("staffing", "Staffing and personnel", "Social workers, counselors and restorative-justice staff."),
    ("holistic-safety", "Holistic safety", "Safety built on relationships, not surveillance."),
    ("community-schools", "Community schools", "Schools as hubs of support for students and families."),
    ("racial-justice", "Racial justice", "Uplifting Black, brown and newcomer students."),
]

SUBMITTED_NOTE = (
    "Submitted to CPS as part of the union's demand for safety and security after School Resource Officers leave."
)

DEMANDS = [
    {
        "slug": "trauma-supports",
        "category": "trauma-supports",
        "title": "Trauma supports in every school",
        "summary": "Students who have lived through violence need trained adults and time to heal. We are "
        "bargaining for trauma supports in every school now that police are leaving.",
        "body": "Ending the police contract is a step towards giving schools the resources they need to keep "
        "students safe. Trauma supports mean trained staff, time and space for students to heal.",
        "target": "A trauma-informed support team in every school",
        "priority_tier": PriorityTier.MUST_HAVE,
        "claims": {"ctu-statement": "supports: removing police is not enough without supports for students"},
    },
    {
        "slug": "restorative-practice-training",
        "category": "restorative-practices",
        "title": "Restorative-practice training and methods",
        "summary": "Training for every school's staff in restorative practices, so that conflict is met with "
        "repair and relationships rather than discipline and police.",
        "body": "SRO-initiated discipline falls more harshly and more often on students of color. Restorative "
        "methods address harm without criminalizing students.",
        "target": "Paid restorative-practice training for all school staff",
        "priority_tier": PriorityTier.MUST_HAVE,
        "claims": {
            "national-pattern": "supports: police-initiated discipline harms students of color most",
            "ctu-statement": "supports: the union's demand for restorative practice training and methods",
        },
    },
    {
        "slug": "appropriate-personnel",
        "category": "staffing",
        "title": "Appropriate personnel: social workers, counselors and restorative-justice staff",
        "summary": "Ending the police contract can mean more social workers, counselors and restorative "
        "justice programs in our schools. We are bargaining for the staff to make that real.",
        "body": "All students deserve meaningful relationships with school staff who are there to educate "
        "instead of surveil and criminalize.",
        "target": "One social worker per 250 students",
        "priority_tier": PriorityTier.MUST_HAVE,
        "claims": {"ctu-statement": "supports: more social workers, counselors and restorative justice programs"},
    },
    {
        "slug": "holistic-safety-practices",
        "category": "holistic-safety",
        "title": "Holistic safety practices",
        "summary": "Redefining school safety: practices built on relationships and care, not on surveillance "
        "and police.",
        "body": "Student Resource Officers don't create a safer environment for students. Holistic safety "
        "practices replace them with what does.",
        "target": "A holistic safety plan in every school, written with students and staff",
        "priority_tier": PriorityTier.IMPORTANT,
        "claims": {
            "copsoutcps-report": "supports: police in schools carry thousands of misconduct complaints",
            "national-pattern": "supports: SROs do not make students safer",
        },
    },
    {
        "slug": "sustainable-community-schools",
        "category": "community-schools",
        "title": "Sustainable Community Schools",
        "summary": "More Sustainable Community Schools: schools that bring health, family and community "
        "supports under one roof.",
        "body": "The union will keep advocating for Sustainable Community Schools as part of redefining school safety.",
        "target": "",
        "priority_tier": PriorityTier.IMPORTANT,
        "claims": {"ctu-statement": "supports: the union's advocacy for Sustainable Community Schools"},
    },
    {
        "slug": "black-lives-matter-at-school-week",
        "category": "racial-justice",
        "title": "Black Lives Matter at School Week",
        "summary": "Prioritizing Black Lives Matter at School Week, which grew out of the Black Lives Matter "
        "movement to uplift Black students.",
        "body": "Black Lives Matter at School Week is a project designed to uplift Black students.",
        "target": "",
        "priority_tier": PriorityTier.TRADEABLE,
        "claims": {"ctu-statement": "supports: prioritizing Black Lives Matter at School Week"},
    },
]

RESOLUTION = {
    "governing_body": "Chicago Board of Education",
    "title": "Ending CPS's contract with the Chicago Police Department",
    "adopted_on": datetime.date(2024, 2, 22),
    "vote": "Unanimous",
    "summary": "The Board of Education voted unanimously to end Chicago Public Schools' contract with the "
    "Chicago Police Department, removing School Resource Officers from schools — a goal of the youth-led "
    "#CopsOutCPS campaign, backed by Mayor Brandon Johnson.",
    "clauses": [
        "Ends Chicago Public Schools' contract with the Chicago Police Department, removing School Resource "
        "Officers from schools.",
    ],
}


@dataclass
class EvidenceSeed:
    key: str
    title: str
    kind: str
    publisher: str
    quote: str
    published_on: datetime.date | None = None
    figures: list[dict] = field(default_factory=list)


EVIDENCE = [
    EvidenceSeed(
        key="copsoutcps-report",
        title="#CopsOutCPS report on police assigned to CPS schools",
        kind=Evidence.Kind.REPORT,
        publisher="#CopsOutCPS",
        quote="police assigned to CPS schools and their supervisors “have a combined total of 2,354 misconduct "
        "complaint records on file against them.” [...] 38 officers in schools had 20 or more misconduct "
        "complaints filed against them. (As quoted by the Chicago Teachers Union, 2024-02-22.)",
        figures=[
            {
                "value": Decimal(2354),
                "unit": "misconduct complaint records",
                "description": "on file against police assigned to CPS schools and their supervisors, combined",
            },
            {
                "value": Decimal(38),
                "unit": "officers",
                "description": "officers in schools with 20 or more misconduct complaints each",
            },
        ],
    ),
    EvidenceSeed(
        key="national-pattern",
        title="SRO-initiated discipline falls hardest on students of color",
        kind=Evidence.Kind.RESEARCH,
        publisher=CTU,
        published_on=STATEMENT_DATE,
        quote="Nationally, disciplinary proceedings initiated by SROs are implemented more harshly and with "
        "greater frequency against students of color, particularly Black students.",
    ),
    EvidenceSeed(
        key="ctu-statement",
        title="CTU statement on the Board of Education's vote to end the CPD contract",
        kind=Evidence.Kind.NEWS,
        publisher=CTU,
        published_on=STATEMENT_DATE,
        quote="The Chicago Teachers Union members know that simply removing the security officers who "
        "criminalize students isn't enough. In response to this vote, we have submitted a demand as part of "
        "our upcoming contract negotiation to bargain for safety and security after removing SROs, including "
        "trauma supports, restorative practice training and methods, appropriate personnel, and holistic "
        "safety practices.",
    ),
]


@dataclass
class LoadReport:
    created: dict[str, int] = field(default_factory=dict)

    def count(self, label: str, created: bool) -> None:
        self.created[label] = self.created.get(label, 0) + int(created)


@transaction.atomic
def campaign_load() -> LoadReport:
    """Create whatever part of the campaign is missing; rows that exist are left as the team edited them."""
    report = LoadReport()
    categories = {}
    for position, (slug, name, description) in enumerate(CATEGORIES):
        categories[slug], created = Category.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description, "position": position}
        )
        report.count("categories", created)

    clause_texts = RESOLUTION["clauses"]
    resolution, created = Resolution.objects.get_or_create(
        governing_body=RESOLUTION["governing_body"],
        adopted_on=RESOLUTION["adopted_on"],
        title=RESOLUTION["title"],
        defaults={"vote": RESOLUTION["vote"], "summary": RESOLUTION["summary"]},
    )
    report.count("resolutions", created)
    clauses = []
    for number, text in enumerate(clause_texts, start=1):
        clause, created = ResolutionClause.objects.get_or_create(
            resolution=resolution, number=number, defaults={"text": text}
        )
        clauses.append(clause)
        report.count("clauses", created)

    evidence = {}
    for seed in EVIDENCE:
        evidence[seed.key], created = Evidence.objects.get_or_create(
            title=seed.title,
            publisher=seed.publisher,
            defaults={
                "kind": seed.kind,
                "quote": seed.quote,
                "published_on": seed.published_on,
                "visibility": Visibility.PUBLIC,
            },
        )
        report.count("evidence", created)
        if created:
            Figure.objects.bulk_create(Figure(evidence=evidence[seed.key], **figure) for figure in seed.figures)
            report.created["figures"] = report.created.get("figures", 0) + len(seed.figures)

    for item in DEMANDS:
        demand, created = Demand.objects.get_or_create(
            slug=item["slug"],
            defaults={
                "title": item["title"],
                "summary": item["summary"],
                "body": item["body"],
                "target": item["target"],
                "category": categories[item["category"]],
                "priority_tier": item["priority_tier"],
                "status": Status.PROPOSED,
                "visibility": Visibility.PUBLIC,
            },
        )
        report.count("demands", created)
        if not created:
            continue
        demand.clauses.set(clauses)
        StatusChange.objects.create(
            demand=demand, from_status=Status.DRAFT, to_status=Status.PROPOSED, note=SUBMITTED_NOTE
        )
        for key, claim in item["claims"].items():
            EvidenceLink.objects.create(demand=demand, evidence=evidence[key], claim=claim)
    return report
