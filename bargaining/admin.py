from django.contrib import admin

from .models import BargainingSession


@admin.register(BargainingSession)
class BargainingSessionAdmin(admin.ModelAdmin):
    list_display = ["held_on", "kind", "location"]
    list_filter = ["kind"]
    search_fields = ["location", "team_notes"]
    date_hierarchy = "held_on"
    autocomplete_fields = ["demands"]
