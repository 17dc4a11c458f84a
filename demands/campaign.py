"""The union's campaign as first submitted: categories, demands, the Board resolution, evidence.

Wording, quotes and figures come from the union's statement on the Board's vote of 2024-02-22
(docs/seed/000_cb09d53dd0fc1f4a.txt). Where that statement does not give a fact (a
resolution number, a report's URL or date), the field is left empty rather than guessed.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from .models import Category, Demand, Evidence, PriorityTier, Resolution, Side, Visibility
from .services import (
    category_create,
    demand_create,
    evidence_create,
    evidence_link_create,
    proposal_create,
    resolution_create,
    resolution_update,
)

CTU = "Chicago Teachers Union"
STATEMENT_DATE = datetime.date(2024, 2, 22)
FIRST_PROPOSAL_SUMMARY = (
    "The union's demand as submitted: the union \"submitted a demand as part of our upcoming contract "
    'negotiation" (Chicago Teachers Union statement, February 22, 2024).'
)

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
    """Create whatever part of the campaign is missing, through the services like any other write; rows
    that exist are left as the team edited them."""
    report = LoadReport()
    categories = {category.slug: category for category in Category.objects.all()}
    for position, (slug, name, description) in enumerate(CATEGORIES):
        created = slug not in categories
        if created:
            categories[slug] = category_create(slug=slug, name=name, description=description, position=position)
        report.count("categories", created)

    resolution = Resolution.objects.filter(
        governing_body=RESOLUTION["governing_body"], adopted_on=RESOLUTION["adopted_on"], title=RESOLUTION["title"]
    ).first()
    report.count("resolutions", resolution is None)
    seeded = {number: text for number, text in enumerate(RESOLUTION["clauses"], start=1)}
    if resolution is None:
        resolution = resolution_create(
            by=None,
            clauses=[{"number": number, "text": text} for number, text in seeded.items()],
            **{name: RESOLUTION[name] for name in ("governing_body", "adopted_on", "title", "vote", "summary")},
        )
        report.created["clauses"] = len(seeded)
    else:
        existing = dict(resolution.clauses.values_list("number", "text"))
        missing = {number: text for number, text in seeded.items() if number not in existing}
        if missing:
            whole = {**existing, **missing}
            resolution_update(
                resolution_id=resolution.pk,
                by=None,
                clauses=[{"number": number, "text": text} for number, text in sorted(whole.items())],
            )
        report.created["clauses"] = len(missing)
    clauses = list(resolution.clauses.filter(number__in=seeded))

    evidence = {}
    for seed in EVIDENCE:
        found = Evidence.objects.filter(title=seed.title, publisher=seed.publisher).first()
        report.count("evidence", found is None)
        if found is None:
            found = evidence_create(
                by=None,
                figures=seed.figures,
                title=seed.title,
                publisher=seed.publisher,
                kind=seed.kind,
                quote=seed.quote,
                published_on=seed.published_on,
                visibility=Visibility.PUBLIC,
            )
            report.created["figures"] = report.created.get("figures", 0) + len(seed.figures)
        evidence[seed.key] = found

    for item in DEMANDS:
        created = not Demand.objects.filter(slug=item["slug"]).exists()
        report.count("demands", created)
        if not created:
            continue
        demand = demand_create(
            by=None,
            clauses=clauses,
            category=categories[item["category"]],
            visibility=Visibility.PUBLIC,
            **{name: item[name] for name in ("slug", "title", "summary", "body", "target", "priority_tier")},
        )
        # The union's first proposal is the demand as the statement submitted it; it moves the demand to
        # `proposed`. Nothing later in the chain comes from the statement, so nothing later is loaded here.
        proposal_create(
            demand_id=demand.pk,
            expected_version=demand.version,
            by=None,
            note=SUBMITTED_NOTE,
            side=Side.UNION,
            exchanged_on=STATEMENT_DATE,
            language=item["summary"],
            summary=FIRST_PROPOSAL_SUMMARY,
            visibility=Visibility.PUBLIC,
        )
        report.count("proposals", True)
        version = Demand.objects.values_list("version", flat=True).get(pk=demand.pk)
        for key, claim in item["claims"].items():
            evidence_link_create(
                demand_id=demand.pk, evidence_id=evidence[key].pk, claim=claim, expected_version=version, by=None
            )
            version += 1
    return report
