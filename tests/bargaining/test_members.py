import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bargaining.models import Member
from bargaining.services import (
    member_create,
    member_set_preferences,
    member_unsubscribe,
    member_update,
)
from demands.errors import ValidationFailed
from demands.roles import TEAM_GROUP
from tests.factories import CategoryFactory, MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:bargaining_member_changelist")
IMPORT = reverse("admin:bargaining_member_import")


# --- Services ---


def test_create_trims_and_defaults():
    member = member_create(email="  ana@example.org ", name=" Ana ", language="ES")

    assert (member.email, member.name, member.language, member.frequency, member.state) == (
        "ana@example.org",
        "Ana",
        "es",
        "weekly",
        "active",
    )
    assert member.topics.count() == 0


def test_create_refuses_an_email_already_on_the_roster_in_another_case():
    MemberFactory(email="ana@example.org")

    with pytest.raises(ValidationFailed) as caught:
        member_create(email="ANA@Example.org")

    assert caught.value.errors == {"email": ["A member with this email address already exists (case does not matter)."]}
    assert Member.objects.count() == 1


def test_create_reports_every_bad_field():
    with pytest.raises(ValidationFailed) as caught:
        member_create(email="nope", frequency="hourly", language="english")

    assert set(caught.value.errors) == {"email", "frequency", "language"}


@pytest.mark.parametrize(
    ("given", "stored"), [("en", "en"), ("es", "es"), (" ES ", "es"), ("es-MX", "es"), ("es_us", "es"), ("EN-gb", "en")]
)
def test_create_stores_a_language_as_one_of_the_sites(given, stored):
    member = member_create(email="ana@example.org", language=given)
    assert member.language == stored
    assert member.digest_language == stored


@pytest.mark.parametrize("given", ["fr", "zh-hant", "english", "e", "", "es-", "x-es"])
def test_create_refuses_a_language_the_site_does_not_have(given):
    with pytest.raises(ValidationFailed) as caught:
        member_create(email="ana@example.org", language=given)
    assert list(caught.value.errors) == ["language"]
    assert not Member.objects.exists()


def test_update_refuses_a_language_the_site_does_not_have():
    member = MemberFactory(language="es")
    with pytest.raises(ValidationFailed) as caught:
        member_update(member_id=member.pk, language="pt-br")
    assert list(caught.value.errors) == ["language"]
    member.refresh_from_db()
    assert member.language == "es"


def test_create_refuses_null_characters_postgresql_cannot_store():
    with pytest.raises(ValidationFailed) as caught:
        member_create(email="ana@example.org", name="An\x00a")
    assert caught.value.errors == {"name": ["Null characters are not allowed."]}


def test_update_sets_and_clears_unsubscribed_at_with_the_state():
    member = MemberFactory()

    member = member_update(member_id=member.pk, state=Member.State.UNSUBSCRIBED)
    assert member.unsubscribed_at is not None

    member = member_update(member_id=member.pk, state=Member.State.ACTIVE, name="Ana")
    assert (member.state, member.unsubscribed_at, member.name) == ("active", None, "Ana")


def test_update_refuses_unknown_fields_and_a_taken_email():
    MemberFactory(email="taken@example.org")
    member = MemberFactory()

    with pytest.raises(ValidationFailed) as unknown:
        member_update(member_id=member.pk, unsubscribed_at=None)
    with pytest.raises(ValidationFailed) as taken:
        member_update(member_id=member.pk, email="Taken@example.org")

    assert list(unknown.value.errors) == ["unsubscribed_at"]
    assert list(taken.value.errors) == ["email"]


def test_update_may_change_only_the_case_of_a_members_own_email():
    member = MemberFactory(email="ana@example.org")
    assert member_update(member_id=member.pk, email="Ana@Example.org").email == "Ana@Example.org"


def test_unsubscribe_is_idempotent():
    member = MemberFactory(frequency=Member.Frequency.DAILY)

    first = member_unsubscribe(member_id=member.pk)
    second = member_unsubscribe(member_id=member.pk)

    assert first.state == second.state == Member.State.UNSUBSCRIBED
    assert first.unsubscribed_at == second.unsubscribed_at is not None
    assert second.frequency == Member.Frequency.DAILY
    assert not second.receives_digests


def test_unsubscribe_of_an_unknown_member_raises():
    with pytest.raises(Member.DoesNotExist):
        member_unsubscribe(member_id=987654)


def test_set_preferences_changes_frequency_and_topics():
    trauma, safety = CategoryFactory(), CategoryFactory()
    member = MemberFactory()
    member.topics.set([trauma])

    member = member_set_preferences(member_id=member.pk, frequency="daily", topics=[safety.pk])

    assert member.frequency == "daily"
    assert list(member.topics.all()) == [safety]


def test_set_preferences_resubscribes_only_when_asked():
    member = MemberFactory(state=Member.State.UNSUBSCRIBED)

    assert member_set_preferences(member_id=member.pk, frequency="weekly", topics=[]).state == "unsubscribed"
    member = member_set_preferences(member_id=member.pk, frequency="weekly", topics=[], resubscribe=True)
    assert (member.state, member.unsubscribed_at) == ("active", None)


def test_set_preferences_does_not_lift_a_bounce():
    member = MemberFactory(state=Member.State.BOUNCED)
    member = member_set_preferences(member_id=member.pk, frequency="daily", topics=[], resubscribe=True)
    assert member.state == Member.State.BOUNCED


def test_set_preferences_refuses_unknown_frequency_and_topics():
    member = MemberFactory()
    with pytest.raises(ValidationFailed) as frequency:
        member_set_preferences(member_id=member.pk, frequency="hourly", topics=[])
    with pytest.raises(ValidationFailed) as topics:
        member_set_preferences(member_id=member.pk, frequency="daily", topics=[424242])
    assert list(frequency.value.errors) == ["frequency"]
    assert topics.value.errors == {"topics": ["No category has id 424242."]}
    member.refresh_from_db()
    assert member.frequency == Member.Frequency.WEEKLY


# --- Admin ---


@pytest.fixture
def staff_team_user(team_user):
    team_user.is_staff = True
    team_user.save()
    return team_user


def test_changelist_search_and_filters_work_for_a_superuser(client, admin_user):
    topic = CategoryFactory(name="Trauma supports")
    ana = MemberFactory(email="ana@example.org", name="Ana Ruiz", school="Juarez HS", language="es")
    ana.topics.set([topic])
    MemberFactory(email="ben@example.org", name="Ben Lee", school="Lane Tech", state=Member.State.UNSUBSCRIBED)
    client.force_login(admin_user)

    listing = client.get(CHANGELIST)
    by_school = client.get(CHANGELIST, {"q": "juarez"})
    unsubscribed = client.get(CHANGELIST, {"state__exact": "unsubscribed"})
    spanish = client.get(CHANGELIST, {"language": "es"})
    by_topic = client.get(CHANGELIST, {"topics__id__exact": topic.pk})

    assert listing.status_code == 200
    assert b"Import from CSV" in listing.content
    assert b"Trauma supports" in listing.content
    assert [m.email for m in by_school.context["cl"].result_list] == ["ana@example.org"]
    assert [m.email for m in unsubscribed.context["cl"].result_list] == ["ben@example.org"]
    assert [m.email for m in spanish.context["cl"].result_list] == ["ana@example.org"]
    assert [m.email for m in by_topic.context["cl"].result_list] == ["ana@example.org"]


def test_changelist_queries_do_not_grow_with_members(client, admin_user, django_assert_max_num_queries):
    topic = CategoryFactory()
    client.force_login(admin_user)
    for member in MemberFactory.create_batch(3):
        member.topics.set([topic])
    with django_assert_max_num_queries(50) as few:
        client.get(CHANGELIST)
    for member in MemberFactory.create_batch(60):
        member.topics.set([topic])
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(CHANGELIST)


def test_add_and_change_pages_save_through_the_services(client, admin_user):
    topic = CategoryFactory()
    client.force_login(admin_user)

    assert client.get(reverse("admin:bargaining_member_add")).status_code == 200
    response = client.post(
        reverse("admin:bargaining_member_add"),
        {
            "email": "new@example.org",
            "name": "New",
            "school": "",
            "language": "en",
            "frequency": "daily",
            "topics": [topic.pk],
        },
    )
    assert response.status_code == 302
    member = Member.objects.get(email="new@example.org")
    assert list(member.topics.all()) == [topic]

    change = reverse("admin:bargaining_member_change", args=[member.pk])
    assert client.get(change).status_code == 200
    response = client.post(
        change,
        {
            "email": "new@example.org",
            "name": "New",
            "school": "",
            "language": "en",
            "frequency": "daily",
            "topics": [topic.pk],
            "state": "unsubscribed",
        },
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.state == "unsubscribed"
    assert member.unsubscribed_at is not None


def test_add_page_offers_only_the_sites_languages_and_refuses_another(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("admin:bargaining_member_add"))
    assert [value for value, _ in page.context["adminform"].form.fields["language"].choices] == ["en", "es"]

    response = client.post(
        reverse("admin:bargaining_member_add"),
        {"email": "new@example.org", "name": "", "school": "", "language": "fr", "frequency": "weekly"},
    )

    assert response.status_code == 200
    assert "language" in response.context["adminform"].form.errors
    assert not Member.objects.exists()


def test_add_page_refuses_a_duplicate_email_with_a_readable_message(client, admin_user):
    MemberFactory(email="ana@example.org")
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:bargaining_member_add"),
        {"email": "ANA@example.org", "name": "", "school": "", "language": "en", "frequency": "weekly"},
    )

    assert response.status_code == 200
    assert b"A member with this email address already exists" in response.content
    assert Member.objects.count() == 1


def test_export_action_writes_the_import_columns(client, admin_user):
    trauma = CategoryFactory(name="Trauma supports", slug="trauma-supports", position=1)
    safety = CategoryFactory(name="Holistic safety", slug="holistic-safety", position=2)
    ana = MemberFactory(email="ana@example.org", name="Ruiz, Ana", school="Juarez HS", language="es", frequency="daily")
    ana.topics.set([trauma, safety])
    ben = MemberFactory(email="ben@example.org", name="Ben", school="", language="en", frequency="off")
    client.force_login(admin_user)

    response = client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [ana.pk, ben.pk], "index": 0})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="members-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["email", "name", "school", "language", "frequency", "topics"],
        ["ana@example.org", "Ruiz, Ana", "Juarez HS", "es", "daily", "trauma-supports;holistic-safety"],
        ["ben@example.org", "Ben", "", "en", "off", ""],
    ]


def test_exported_file_imports_back_unchanged(client, admin_user):
    trauma = CategoryFactory(slug="trauma-supports")
    for member in MemberFactory.create_batch(5, frequency="daily"):
        member.topics.set([trauma])
    client.force_login(admin_user)
    ids = list(Member.objects.values_list("pk", flat=True))
    exported = b"".join(
        client.post(CHANGELIST, {"action": "export_csv", "_selected_action": ids, "index": 0}).streaming_content
    )

    response = client.post(IMPORT, {"file": SimpleUploadedFile("members.csv", exported)})

    report = response.context["report"]
    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 5, [])


def test_import_page_runs_the_import_and_shows_the_report(client, admin_user):
    MemberFactory(email="old@example.org", name="Old")
    client.force_login(admin_user)
    assert client.get(IMPORT).status_code == 200
    upload = SimpleUploadedFile(
        "roster.csv",
        (
            "\ufeffemail,name,school,language,frequency,topics\n"
            "new@example.org,Zoë,,,,\n"
            "OLD@example.org,Renamed,,,,\n"
            "broken,,,,,\n"
        ).encode(),
    )

    response = client.post(IMPORT, {"file": upload})

    assert response.status_code == 200
    content = response.content.decode()
    assert "Imported roster.csv: 3 rows: 1 created, 1 updated, 0 unchanged, 1 rejected." in content
    assert "<td>4</td><td>email</td><td>broken</td><td>not a valid email address</td>" in content
    assert Member.objects.get(email="new@example.org").name == "Zoë"
    assert Member.objects.get(email="old@example.org").name == "Renamed"


def test_import_page_dry_run_changes_nothing(client, admin_user):
    client.force_login(admin_user)
    upload = SimpleUploadedFile("roster.csv", b"email,name,school,language,frequency,topics\nnew@example.org,,,,,\n")

    response = client.post(IMPORT, {"file": upload, "dry_run": "on"})

    assert response.context["report"].created == 1
    assert b"nothing was changed" in response.content
    assert not Member.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"mail,name\nx@example.org,X\n", b"The header row must be email,name,school,language,frequency,topics"),
        ("email,name,school,language,frequency,topics\nz@example.org,Zoë,,,,\n".encode("latin-1"), b"not UTF-8"),
    ],
)
def test_import_page_explains_a_file_it_cannot_read(client, admin_user, content, message):
    client.force_login(admin_user)

    response = client.post(IMPORT, {"file": SimpleUploadedFile("roster.csv", content)})

    assert response.status_code == 200
    assert message in response.content
    assert response.context["report"] is None
    assert not Member.objects.exists()


def test_team_group_has_view_permission_on_members_only():
    team = Group.objects.get(name=TEAM_GROUP)
    codenames = set(
        team.permissions.filter(content_type__app_label="bargaining", content_type__model="member").values_list(
            "codename", flat=True
        )
    )
    assert codenames == {"view_member"}


def test_team_may_look_members_up_but_not_change_import_or_export(client, staff_team_user):
    member = MemberFactory(email="ana@example.org")
    client.force_login(staff_team_user)

    listing = client.get(CHANGELIST)
    assert listing.status_code == 200
    assert b"ana@example.org" in listing.content
    assert b"Import from CSV" not in listing.content
    assert "export_csv" not in listing.context["cl"].model_admin.get_actions(listing.wsgi_request)
    assert client.get(reverse("admin:bargaining_member_change", args=[member.pk])).status_code == 200
    assert client.get(reverse("admin:bargaining_member_add")).status_code == 403
    assert client.get(IMPORT).status_code == 403
    upload = SimpleUploadedFile("roster.csv", b"email,name,school,language,frequency,topics\nnew@example.org,,,,,\n")
    assert client.post(IMPORT, {"file": upload}).status_code == 403
    export = client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [member.pk], "index": 0})
    assert export.get("Content-Type", "").startswith("text/html")
    assert not Member.objects.filter(email="new@example.org").exists()


def test_non_staff_cannot_reach_the_member_admin(client):
    client.force_login(UserFactory())
    assert client.get(IMPORT).status_code == 302
    assert client.get(CHANGELIST).status_code == 302
