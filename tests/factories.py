import datetime
from decimal import Decimal

import factory
from django.contrib.auth.models import User

from demands.models import (
    BargainingSession,
    Category,
    Demand,
    Evidence,
    EvidenceLink,
    Figure,
    Proposal,
    Resolution,
    ResolutionClause,
    Status,
    StatusChange,
    TentativeAgreement,
    Visibility,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("correct horse battery staple")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    position = factory.Sequence(int)


class DemandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Demand

    title = factory.Sequence(lambda n: f"Demand {n}")
    slug = factory.Sequence(lambda n: f"demand-{n}")
    summary = factory.LazyAttribute(lambda demand: f"What {demand.title} asks for.")
    category = factory.SubFactory(CategoryFactory)
    status = Status.PROPOSED
    # Stored rows start as published as their status; held moves go through `demand_transition`.
    published_status = factory.SelfAttribute("status")
    visibility = Visibility.PUBLIC


class EvidenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Evidence

    title = factory.Sequence(lambda n: f"Evidence {n}")
    kind = Evidence.Kind.REPORT
    publisher = "Publisher"
    published_on = datetime.date(2024, 2, 22)
    quote = "A verbatim quote."
    visibility = Visibility.PUBLIC


class FigureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Figure

    evidence = factory.SubFactory(EvidenceFactory)
    value = Decimal(42)
    unit = "records"


class EvidenceLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EvidenceLink

    demand = factory.SubFactory(DemandFactory)
    evidence = factory.SubFactory(EvidenceFactory)
    claim = "supports: the demand"


class ResolutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Resolution

    governing_body = "Board of Education"
    number = factory.Sequence(lambda n: f"24-{n:04d}")
    title = factory.Sequence(lambda n: f"Resolution {n}")
    adopted_on = datetime.date(2024, 2, 22)
    vote = "Unanimous"


class ResolutionClauseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResolutionClause

    resolution = factory.SubFactory(ResolutionFactory)
    number = factory.Sequence(lambda n: n + 1)
    text = "Be it resolved."


class BargainingSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BargainingSession

    held_on = datetime.date(2026, 11, 2)
    location = "CPS headquarters"


# --- Members ---


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "bargaining.Member"

    email = factory.Sequence(lambda n: f"member{n}@example.org")
    name = factory.Sequence(lambda n: f"Member {n}")
    school = "Lincoln Park High School"
    language = "en"


# --- API ---


class StatusChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StatusChange

    demand = factory.SubFactory(DemandFactory)
    from_status = Status.DRAFT
    to_status = Status.PROPOSED
    note = "Presented at the table."


class ProposalFactory(factory.django.DjangoModelFactory):
    """A proposal row as stored; tests of the rules go through `proposal_create`."""

    class Meta:
        model = Proposal

    demand = factory.SubFactory(DemandFactory)
    number = factory.Sequence(lambda n: n + 1)
    side = "union"
    exchanged_on = datetime.date(2024, 3, 1)
    language = factory.Sequence(lambda n: f"The Board shall employ {n} social workers.")
    summary = "What this proposal asks for."
    visibility = Visibility.PUBLIC


class TentativeAgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TentativeAgreement

    demand = factory.SubFactory(DemandFactory)
    language = "The Board shall employ one social worker per 250 students."
