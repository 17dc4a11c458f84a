from django import forms

from demands.models import Category

from .models import Member


class PreferencesForm(forms.Form):
    """A member's digest preferences; `resubscribe` is offered only to a member who unsubscribed."""

    frequency = forms.ChoiceField(
        choices=Member.Frequency.choices, widget=forms.RadioSelect, label="How often should we email you?"
    )
    topics = forms.ModelMultipleChoiceField(
        queryset=Category.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Which topics?",
        help_text="Leave every box unticked to hear about all of them.",
    )
    resubscribe = forms.BooleanField(required=False, label="Yes, send me digests again")

    def __init__(self, *args, member: Member, **kwargs) -> None:
        kwargs.setdefault("initial", {"frequency": member.frequency, "topics": list(member.topics.all())})
        super().__init__(*args, **kwargs)
        if member.state != Member.State.UNSUBSCRIBED:
            del self.fields["resubscribe"]


class MemberImportForm(forms.Form):
    """The upload on the admin's member import page."""

    file = forms.FileField(
        label="CSV file", help_text="UTF-8, with the header email,name,school,language,frequency,topics."
    )
    dry_run = forms.BooleanField(required=False, label="Check only: report what would happen, change nothing")
