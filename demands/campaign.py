"""The union's campaign as first submitted: categories, demands, the Board resolution, evidence.

Wording, quotes and figures come from the union's statement on the Board's vote of 2024-02-22
(docs/seed/000_cb09d53dd0fc1f4a.txt). Where that statement does not give a fact (a
resolution number, a report's URL or date), the field is left empty rather than guessed.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import models, transaction

from .models import Category, Demand, Evidence, PriorityTier, Resolution, Side, Visibility
from .services import (
    category_create,
    category_update,
    demand_create,
    demand_update,
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

# The campaign's own texts in Spanish, by the English field's Spanish column (`title_es`, ...).
FIRST_PROPOSAL_SUMMARY_ES = (
    'La demanda del sindicato tal como se presentó: el sindicato "presentó una demanda como parte de nuestra '
    'próxima negociación del contrato" (declaración del Sindicato de Maestros de Chicago, 22 de febrero de 2024).'
)
SUBMITTED_NOTE_ES = (
    "Presentada a CPS como parte de la demanda del sindicato de seguridad y protección después de que se vayan "
    "los agentes de recursos escolares."
)
CATEGORIES_ES = {
    "trauma-supports": {
        "name_es": "Apoyos para el trauma",
        "description_es": "Cuidado para estudiantes que han vivido la violencia y la pérdida.",
    },
    "restorative-practices": {
        "name_es": "Prácticas restaurativas",
        "description_es": "Reparar el daño en lugar de castigar y vigilar.",
    },
    "staffing": {
        "name_es": "Personal",
        "description_es": "Trabajadores sociales, consejeros y personal de justicia restaurativa.",
    },
    "holistic-safety": {
        "name_es": "Seguridad integral",
        "description_es": "Seguridad basada en las relaciones, no en la vigilancia.",
    },
    "community-schools": {
        "name_es": "Escuelas comunitarias",
        "description_es": "Escuelas como centros de apoyo para estudiantes y familias.",
    },
    "racial-justice": {
        "name_es": "Justicia racial",
        "description_es": "Apoyar a los estudiantes negros, morenos y recién llegados.",
    },
}
DEMANDS_ES = {
    "trauma-supports": {
        "title_es": "Apoyos para el trauma en cada escuela",
        "summary_es": "Los estudiantes que han vivido la violencia necesitan adultos capacitados y tiempo para "
        "sanar. Negociamos apoyos para el trauma en cada escuela ahora que la policía se va.",
        "target_es": "Un equipo de apoyo informado sobre el trauma en cada escuela",
    },
    "restorative-practice-training": {
        "title_es": "Capacitación y métodos de prácticas restaurativas",
        "summary_es": "Capacitación en prácticas restaurativas para el personal de cada escuela, para que los "
        "conflictos se atiendan con reparación y relaciones en lugar de disciplina y policía.",
        "target_es": "Capacitación pagada en prácticas restaurativas para todo el personal escolar",
    },
    "appropriate-personnel": {
        "title_es": "Personal adecuado: trabajadores sociales, consejeros y personal de justicia restaurativa",
        "summary_es": "Terminar el contrato con la policía puede significar más trabajadores sociales, consejeros "
        "y programas de justicia restaurativa en nuestras escuelas. Negociamos el personal para hacerlo realidad.",
        "target_es": "Un trabajador social por cada 250 estudiantes",
    },
    "holistic-safety-practices": {
        "title_es": "Prácticas de seguridad integral",
        "summary_es": "Redefinir la seguridad escolar: prácticas basadas en las relaciones y el cuidado, no en la "
        "vigilancia y la policía.",
        "target_es": "Un plan de seguridad integral en cada escuela, escrito con estudiantes y personal",
    },
    "sustainable-community-schools": {
        "title_es": "Escuelas Comunitarias Sostenibles",
        "summary_es": "Más Escuelas Comunitarias Sostenibles: escuelas que reúnen apoyos de salud, familiares y "
        "comunitarios bajo un mismo techo.",
    },
    "black-lives-matter-at-school-week": {
        "title_es": "Semana de Black Lives Matter en la Escuela",
        "summary_es": "Dar prioridad a la Semana de Black Lives Matter en la Escuela, que nació del movimiento "
        "Black Lives Matter para apoyar a los estudiantes negros.",
    },
}
RESOLUTION_ES = {
    "title_es": "Fin del contrato de CPS con el Departamento de Policía de Chicago",
    "summary_es": "La Junta de Educación votó por unanimidad terminar el contrato de las Escuelas Públicas de "
    "Chicago con el Departamento de Policía de Chicago, retirando a los agentes de recursos escolares de las "
    "escuelas — una meta de la campaña juvenil #CopsOutCPS, respaldada por el alcalde Brandon Johnson.",
}
CLAUSES_ES = [
    "Termina el contrato de las Escuelas Públicas de Chicago con el Departamento de Policía de Chicago, retirando "
    "a los agentes de recursos escolares de las escuelas.",
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


def _missing_spanish(instance: models.Model, spanish: dict[str, str]) -> dict[str, str]:
    """The Spanish versions `instance` still lacks (empty), from `spanish`: the team's own are never overwritten."""
    return {name: text for name, text in spanish.items() if not getattr(instance, name)}


@transaction.atomic
def campaign_load() -> LoadReport:
    """Create whatever part of the campaign is missing, through the services like any other write; rows
    that exist are left as the team edited them, except that an empty Spanish version of a campaign text
    is filled in."""
    report = LoadReport()
    categories = {category.slug: category for category in Category.objects.all()}
    for position, (slug, name, description) in enumerate(CATEGORIES):
        created = slug not in categories
        if created:
            categories[slug] = category_create(
                slug=slug, name=name, description=description, position=position, **CATEGORIES_ES[slug]
            )
        elif missing := _missing_spanish(categories[slug], CATEGORIES_ES[slug]):
            categories[slug] = category_update(category_id=categories[slug].pk, **missing)
            report.count("Spanish versions", True)
        report.count("categories", created)

    resolution = Resolution.objects.filter(
        governing_body=RESOLUTION["governing_body"], adopted_on=RESOLUTION["adopted_on"], title=RESOLUTION["title"]
    ).first()
    report.count("resolutions", resolution is None)
    seeded = {
        number: {"text": text, "text_es": text_es}
        for number, (text, text_es) in enumerate(zip(RESOLUTION["clauses"], CLAUSES_ES, strict=True), start=1)
    }
    if resolution is None:
        resolution = resolution_create(
            by=None,
            clauses=[{"number": number, **texts} for number, texts in seeded.items()],
            **{name: RESOLUTION[name] for name in ("governing_body", "adopted_on", "title", "vote", "summary")},
            **RESOLUTION_ES,
        )
        report.created["clauses"] = len(seeded)
    else:
        existing = {
            number: {"text": text, "text_es": text_es}
            for number, text, text_es in resolution.clauses.values_list("number", "text", "text_es")
        }
        missing = {number: texts for number, texts in seeded.items() if number not in existing}
        # A clause as loaded, still without its Spanish version, gets it; one the team reworded is left alone.
        spanish = {
            number: {**texts, "text_es": seeded[number]["text_es"]}
            for number, texts in existing.items()
            if number in seeded and not texts["text_es"] and texts["text"] == seeded[number]["text"]
        }
        fields = _missing_spanish(resolution, RESOLUTION_ES)
        if missing or spanish or fields:
            whole = {**existing, **spanish, **missing}
            resolution = resolution_update(
                resolution_id=resolution.pk,
                by=None,
                clauses=[{"number": number, **texts} for number, texts in sorted(whole.items())],
                **fields,
            )
            report.count("Spanish versions", bool(spanish or fields))
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
        found = Demand.objects.filter(slug=item["slug"]).first()
        report.count("demands", found is None)
        if found is not None:
            if missing := _missing_spanish(found, DEMANDS_ES[item["slug"]]):
                demand_update(demand_id=found.pk, expected_version=found.version, by=None, **missing)
                report.count("Spanish versions", True)
            continue
        demand = demand_create(
            by=None,
            clauses=clauses,
            category=categories[item["category"]],
            visibility=Visibility.PUBLIC,
            **{name: item[name] for name in ("slug", "title", "summary", "body", "target", "priority_tier")},
            **DEMANDS_ES[item["slug"]],
        )
        # The union's first proposal is the demand as the statement submitted it; it moves the demand to
        # `proposed`. Nothing later in the chain comes from the statement, so nothing later is loaded here.
        proposal_create(
            demand_id=demand.pk,
            expected_version=demand.version,
            by=None,
            note=SUBMITTED_NOTE,
            note_es=SUBMITTED_NOTE_ES,
            side=Side.UNION,
            exchanged_on=STATEMENT_DATE,
            language=item["summary"],
            summary=FIRST_PROPOSAL_SUMMARY,
            summary_es=FIRST_PROPOSAL_SUMMARY_ES,
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
