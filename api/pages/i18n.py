"""The pages' languages: the message catalogue (en, fr, es) and the choice of a request's language.

The catalogue is a plain dict per language, every key present in all three (a test holds it so,
and another that every key a template names exists). A message may name fields in braces
(``{count}``), filled by ``Messages.__call__``.

A request's language is ``?lang=`` (remembered in a cookie by the page that got it), else the
cookie, else the best of ``Accept-Language``, else English. Texts of the ledger itself (titles,
descriptions, names) are shown in that language when the ledger has them, otherwise in their
original language, marked with it (``shown``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from api.errors import ApiError
from domain.values import LANGUAGES, Language

LANGUAGE_COOKIE = "lang"
DEFAULT_LANGUAGE: Language = "en"

LANGUAGE_NAMES: dict[Language, str] = {"en": "English", "fr": "Français", "es": "Español"}
"""Each language in its own name (the switcher shows them so)."""


class UnknownLanguage(ApiError):
    """``?lang=`` names a language the pages are not written in (400, field ``lang``)."""

    code = "invalid_query"


def as_language(value: str) -> Language | None:
    for language in LANGUAGES:
        if value == language:
            return language
    return None


def accepted_language(header: str | None) -> Language | None:
    """The best language of an ``Accept-Language`` header the pages speak (RFC 9110, 12.5.4):
    highest weight first, a region ignored (``fr-CA`` is ``fr``), weight 0 refused."""
    if not header:
        return None
    ranked: list[tuple[float, int, Language]] = []
    for position, item in enumerate(header.split(",")[:32]):
        tag, _, parameters = item.strip().partition(";")
        weight = 1.0
        parameter = parameters.strip()
        if parameter.startswith("q="):
            try:
                weight = float(parameter[2:])
            except ValueError:
                continue
        language = as_language(tag.strip().lower().split("-", 1)[0])
        if language is not None and 0 < weight <= 1:
            ranked.append((-weight, position, language))
    return min(ranked)[2] if ranked else None


def choose_language(query: str | None, cookie: str | None, accept_language: str | None) -> Language:
    """``?lang=``, else the cookie, else ``Accept-Language``, else English; an unknown
    ``?lang=`` is refused (a cookie that is not a language is ignored: the client kept it)."""
    if query is not None:
        chosen = as_language(query)
        if chosen is None:
            raise UnknownLanguage(
                f"unknown language {query!r}: one of {', '.join(LANGUAGES)}", field="lang"
            )
        return chosen
    if cookie is not None and (remembered := as_language(cookie)) is not None:
        return remembered
    return accepted_language(accept_language) or DEFAULT_LANGUAGE


@dataclass(frozen=True, slots=True)
class Shown:
    """A text of the ledger as a page shows it."""

    text: str
    language: Language
    """The language the text is written in."""
    fallback: bool
    """True when the ledger has no text in the reader's language: this is the original."""


def shown(texts: Mapping[Language, str], wanted: Language) -> Shown:
    """The text in ``wanted`` if the ledger has it, else in English, else in its first language."""
    if texts.get(wanted):
        return Shown(texts[wanted], wanted, False)
    for language in (DEFAULT_LANGUAGE, *LANGUAGES):
        if texts.get(language):
            return Shown(texts[language], language, True)
    return Shown("", wanted, False)


class Messages:
    """The catalogue of one language, called as ``t("key", name=value)``."""

    def __init__(self, language: Language) -> None:
        self.language = language
        self.catalogue = CATALOGUE[language]

    def __call__(self, key: str, /, **fields: object) -> str:
        text = self.catalogue[key]  # a missing key is a bug the catalogue tests catch
        return text.format(**fields) if fields else text


CATALOGUE: dict[Language, dict[str, str]] = {
    "en": {
        "pledge.no_recent": "No progress report within the last {months} months",
        "event.kind": "Kind of change",
        "event.log": "Public log",
        "home.event": "Event",
        "pledge.no_report_yet": "No progress report yet",
        "site.name": "Pledge Ledger",
        "site.tagline": "The public, verifiable record of city pledges for migrants and refugees",
        "site.about": (
            "Pledge Ledger records what cities and city networks promise to do for migrants and "
            "refugees under the Global Compact for Migration and the Global Compact on Refugees, "
            "and what they then report. Every change is an event in a public, append-only log "
            "that anyone can verify: no pledge's history can be rewritten unnoticed."
        ),
        "site.skip": "Skip to the content",
        "site.demo": ("Demonstration ledger: every city, network and pledge here is fictional."),
        "nav.label": "Main",
        "nav.home": "Home",
        "nav.pledges": "Pledges",
        "nav.reports": "Reports",
        "nav.audit": "Audit",
        "nav.api": "API",
        "lang.label": "Language",
        "lang.choose": "Show",
        "lang.original": "original in {language}",
        "footer.text": "Every figure here comes from the public log.",
        "footer.audit": "Check it yourself on the audit page",
        "home.title": "Overview",
        "home.totals": "Totals",
        "home.pledges": "Pledges",
        "home.cities": "Cities",
        "home.networks": "Networks",
        "home.countries": "Countries",
        "home.by_status": "Pledges by status",
        "home.freshness": "Reporting freshness",
        "home.freshness_text": (
            "{reported} of {open} open pledges reported progress in the last {months} months; "
            "{silent} are silent."
        ),
        "home.recent": "Recent activity",
        "home.no_events": "Nothing has been recorded yet.",
        "home.checkpoint": "Latest signed checkpoint",
        "home.no_checkpoint": "No checkpoint has been signed yet.",
        "home.browse": "Browse all pledges",
        "home.networks_list": "Networks",
        "chart.table": "The figures of this chart",
        "chart.label": "Label",
        "chart.value": "Value",
        "chart.empty": "No figures yet.",
        "list.title": "Pledges",
        "list.filters": "Filters",
        "list.search": "Search in titles and descriptions",
        "list.network": "Network",
        "list.city": "City",
        "list.country": "Country (ISO code)",
        "list.status": "Status",
        "list.gcm_objective": "GCM objective",
        "list.gcr_area": "GCR area",
        "list.sdg": "SDG goal or target",
        "list.priority_area": "Priority area",
        "list.stale": "Only silent pledges",
        "list.sort": "Sort by",
        "list.sort.id": "Pledge id",
        "list.sort.updated": "Last change, newest first",
        "list.sort.submitted": "Submission, newest first",
        "list.limit": "Per page",
        "list.any": "Any",
        "list.apply": "Apply filters",
        "list.clear": "Clear filters",
        "list.results": "Results",
        "list.none": "No pledge matches these filters.",
        "list.next": "Next page",
        "list.first": "First page",
        "list.csv": "This page as CSV",
        "list.share": "This address keeps the filters: share it to show the same list.",
        "col.pledge": "Pledge",
        "col.network": "Network",
        "col.cities": "Cities",
        "col.status": "Status",
        "col.stage": "Stage",
        "col.updated": "Last change",
        "col.last_report": "Last report",
        "col.objectives": "GCM objectives",
        "pledge.state": "Current state",
        "pledge.state_as_of": "State at the end of {day}",
        "pledge.as_of": "As of",
        "pledge.as_of_show": "Show",
        "pledge.as_of_now": "Back to today",
        "pledge.not_yet": "This pledge did not exist yet on {day}.",
        "pledge.description": "Description",
        "pledge.network": "Network",
        "pledge.cities": "Cities",
        "pledge.period": "Period",
        "pledge.period_text": "{start} to {end}",
        "pledge.status": "Status",
        "pledge.stage": "Stage",
        "pledge.outcome": "Outcome",
        "pledge.freshness": "Reporting",
        "pledge.reported": "Reported within the last {months} months",
        "pledge.silent": "Silent: no progress report since {day}",
        "pledge.never_reported": "never",
        "pledge.version": "Version",
        "pledge.tags": "Tags",
        "pledge.gcm": "GCM objectives",
        "pledge.gcr": "GCR areas",
        "pledge.sdg": "SDG targets",
        "pledge.priority": "Priority areas",
        "pledge.none": "none",
        "pledge.external_ids": "External ids",
        "pledge.indicators": "Indicators",
        "pledge.baseline": "Baseline",
        "pledge.target": "Target",
        "pledge.actual": "Reported",
        "pledge.measure": "Measure",
        "pledge.date": "Date",
        "pledge.value": "Value",
        "pledge.series": "Series",
        "pledge.no_values": "This indicator is qualitative: its reports have no figures.",
        "pledge.matches": "Matches",
        "pledge.match_pledge": "Supported by pledge {pledge}",
        "pledge.match_funder": "Funded by {funder}",
        "pledge.quality": "Quality flags",
        "pledge.errata": "Errata",
        "pledge.timeline": "Timeline",
        "pledge.timeline_intro": (
            "Every event of this pledge, as recorded on the public log, oldest first."
        ),
        "pledge.timeline_later": "{count} later event(s) are after the date shown.",
        "pledge.validation": "Validation",
        "pledge.verify": "Verify this pledge",
        "pledge.verify_text": (
            "An auditor checks this pledge's history without trusting this server: download "
            "the audit bundle or point the verifier at the server, with the published key."
        ),
        "event.recorded_by": "Recorded by",
        "event.recorded_at": "Recorded",
        "event.occurred_on": "Happened",
        "event.on_behalf_of": "On behalf of",
        "event.leaf": "Leaf {index}",
        "event.not_logged": "not yet in the log",
        "event.receipt": "Receipt",
        "event.envelope": "Exact envelope",
        "event.before": "Before",
        "event.after": "After",
        "event.field": "Field",
        "event.reason": "Reason",
        "event.note": "Note",
        "event.criteria": "Criteria",
        "event.period": "Period",
        "event.observations": "Observations",
        "event.narrative": "Narrative",
        "event.evidence": "Evidence",
        "event.corrects": "Corrects {event}",
        "event.corrected": "Corrected by an erratum",
        "event.erratum": "Erratum",
        "event.translation": "Translation",
        "event.material": "material change",
        "event.not_material": "not a material change",
        "type.pledge.submitted": "Submitted",
        "type.pledge.amended": "Amended",
        "type.pledge.validated": "Validated",
        "type.pledge.changes_requested": "Changes requested",
        "type.pledge.progress_reported": "Progress reported",
        "type.pledge.matched": "Matched",
        "type.pledge.withdrawn": "Withdrawn",
        "type.pledge.closed": "Closed",
        "type.pledge.erratum_recorded": "Erratum",
        "type.network.registered": "Network registered",
        "type.network.city_joined": "City joined a network",
        "type.network.city_left": "City left a network",
        "type.city.registered": "City registered",
        "type.declaration.signed": "Declaration signed",
        "type.apikey.issued": "API key issued",
        "type.apikey.revoked": "API key revoked",
        "status.awaiting_validation": "Awaiting validation",
        "status.changes_requested": "Changes requested",
        "status.validated": "Validated",
        "status.withdrawn": "Withdrawn",
        "status.closed": "Closed",
        "stage.not_started": "Not started",
        "stage.planning": "Planning",
        "stage.in_progress": "In progress",
        "stage.on_hold": "On hold",
        "stage.completed": "Completed",
        "outcome.fulfilled": "Fulfilled",
        "outcome.partially_fulfilled": "Partially fulfilled",
        "outcome.not_fulfilled": "Not fulfilled",
        "group.network": "Network",
        "group.city": "City",
        "group.country": "Country",
        "group.registered": "Registered",
        "group.rollup": "Roll-up",
        "group.by_status": "By status",
        "group.by_gcm": "By GCM objective",
        "group.by_gcr": "By GCR area",
        "group.freshness": "Reporting freshness",
        "group.fresh": "Reported within {months} months",
        "group.silent_count": "Silent",
        "group.silent": "Silent pledges",
        "group.silent_more": "All silent pledges",
        "group.members": "Member cities",
        "group.networks": "Networks",
        "group.signatures": "Declaration signatures",
        "group.no_signatures": "No declaration signed.",
        "group.pledges": "Pledges",
        "group.all_pledges": "All pledges of {name}",
        "group.validated_share": "Validated",
        "report.title": "Accountability report",
        "report.intro": (
            "The report as of a date is computed from the public log alone: an auditor who "
            "folds the same entries gets the same figures and the same digest."
        ),
        "report.as_of": "As of",
        "report.network": "Network",
        "report.all_networks": "All networks",
        "report.format": "Format",
        "report.show": "Show the report",
        "report.download": "Download",
        "report.digest": "SHA-256 digest",
        "report.tree_size": "Rests on the first {size} entries of the log",
        "report.checkpoint": "Signed checkpoint it cites",
        "report.no_checkpoint": "No signed checkpoint covers these entries yet.",
        "report.pick": "Pick a date to compute the report.",
        "report.silent": "Silent pledges",
        "report.indicators": "Indicator progress",
        "audit.title": "Audit",
        "audit.intro": (
            "The log is an RFC 9162 Merkle tree over every event; its roots are signed as C2SP "
            "checkpoints. Keep the checkpoint and the key: they let you prove later that the "
            "log was only ever appended to."
        ),
        "audit.checkpoint": "Latest signed checkpoint",
        "audit.size": "Tree size",
        "audit.signed_at": "Signed at",
        "audit.key": "Verifier key",
        "audit.key_history": "API keys on the log",
        "audit.key_id": "Key id",
        "audit.role": "Role",
        "audit.issued": "Issued",
        "audit.revoked": "Revoked",
        "audit.no_keys": "No API key has been issued.",
        "audit.consistency": "Consistency between two tree sizes",
        "audit.from": "Older size",
        "audit.to": "Newer size",
        "audit.check": "Check",
        "audit.consistent": "The tree of size {to} extends the tree of size {from_size}: proven.",
        "audit.proof": "Consistency proof",
        "audit.verify": "Verify it yourself",
        "audit.verify_server": "Against this server:",
        "audit.verify_bundle": "Against a downloaded bundle, offline:",
        "audit.kept": "Next time, hold the log to the checkpoint you kept:",
        "error.title": "Error {status}",
        "error.field": "Field",
        "error.back": "Back to the home page",
        "form.date_hint": "Date (YYYY-MM-DD)",
    },
    "fr": {
        "pledge.no_recent": "Aucun rapport d'avancement dans les {months} derniers mois",
        "event.kind": "Nature du changement",
        "event.log": "Journal public",
        "home.event": "Événement",
        "pledge.no_report_yet": "Pas encore de rapport d'avancement",
        "site.name": "Pledge Ledger",
        "site.tagline": (
            "Le registre public et vérifiable des engagements des villes envers les migrants "
            "et les réfugiés"
        ),
        "site.about": (
            "Pledge Ledger enregistre ce que les villes et réseaux de villes s'engagent à faire "
            "pour les migrants et les réfugiés au titre du Pacte mondial sur les migrations et "
            "du Pacte mondial sur les réfugiés, et ce qu'ils rapportent ensuite. Chaque "
            "changement est un événement d'un journal public, en ajout seul, que chacun peut "
            "vérifier : l'historique d'aucun engagement ne peut être réécrit sans que cela se voie."
        ),
        "site.skip": "Aller au contenu",
        "site.demo": (
            "Registre de démonstration : toutes les villes, tous les réseaux et tous les "
            "engagements présentés ici sont fictifs."
        ),
        "nav.label": "Principale",
        "nav.home": "Accueil",
        "nav.pledges": "Engagements",
        "nav.reports": "Rapports",
        "nav.audit": "Audit",
        "nav.api": "API",
        "lang.label": "Langue",
        "lang.choose": "Afficher",
        "lang.original": "original en {language}",
        "footer.text": "Chaque chiffre vient du journal public.",
        "footer.audit": "Vérifiez-le vous-même sur la page d'audit",
        "home.title": "Vue d'ensemble",
        "home.totals": "Totaux",
        "home.pledges": "Engagements",
        "home.cities": "Villes",
        "home.networks": "Réseaux",
        "home.countries": "Pays",
        "home.by_status": "Engagements par statut",
        "home.freshness": "Fraîcheur des rapports",
        "home.freshness_text": (
            "{reported} des {open} engagements ouverts ont rendu compte de leur avancement "
            "ces {months} derniers mois ; {silent} sont silencieux."
        ),
        "home.recent": "Activité récente",
        "home.no_events": "Rien n'a encore été enregistré.",
        "home.checkpoint": "Dernier point de contrôle signé",
        "home.no_checkpoint": "Aucun point de contrôle n'a encore été signé.",
        "home.browse": "Parcourir tous les engagements",
        "home.networks_list": "Réseaux",
        "chart.table": "Les chiffres de ce graphique",
        "chart.label": "Libellé",
        "chart.value": "Valeur",
        "chart.empty": "Pas encore de chiffres.",
        "list.title": "Engagements",
        "list.filters": "Filtres",
        "list.search": "Rechercher dans les titres et descriptions",
        "list.network": "Réseau",
        "list.city": "Ville",
        "list.country": "Pays (code ISO)",
        "list.status": "Statut",
        "list.gcm_objective": "Objectif du PMM",
        "list.gcr_area": "Domaine du PMR",
        "list.sdg": "Objectif ou cible ODD",
        "list.priority_area": "Domaine prioritaire",
        "list.stale": "Seulement les engagements silencieux",
        "list.sort": "Trier par",
        "list.sort.id": "Identifiant",
        "list.sort.updated": "Dernier changement, le plus récent d'abord",
        "list.sort.submitted": "Soumission, la plus récente d'abord",
        "list.limit": "Par page",
        "list.any": "Tous",
        "list.apply": "Appliquer les filtres",
        "list.clear": "Effacer les filtres",
        "list.results": "Résultats",
        "list.none": "Aucun engagement ne correspond à ces filtres.",
        "list.next": "Page suivante",
        "list.first": "Première page",
        "list.csv": "Cette page en CSV",
        "list.share": "Cette adresse garde les filtres : partagez-la pour montrer la même liste.",
        "col.pledge": "Engagement",
        "col.network": "Réseau",
        "col.cities": "Villes",
        "col.status": "Statut",
        "col.stage": "Étape",
        "col.updated": "Dernier changement",
        "col.last_report": "Dernier rapport",
        "col.objectives": "Objectifs du PMM",
        "pledge.state": "État actuel",
        "pledge.state_as_of": "État à la fin du {day}",
        "pledge.as_of": "À la date du",
        "pledge.as_of_show": "Afficher",
        "pledge.as_of_now": "Revenir à aujourd'hui",
        "pledge.not_yet": "Cet engagement n'existait pas encore le {day}.",
        "pledge.description": "Description",
        "pledge.network": "Réseau",
        "pledge.cities": "Villes",
        "pledge.period": "Période",
        "pledge.period_text": "du {start} au {end}",
        "pledge.status": "Statut",
        "pledge.stage": "Étape",
        "pledge.outcome": "Résultat",
        "pledge.freshness": "Rapports",
        "pledge.reported": "Rapport remis dans les {months} derniers mois",
        "pledge.silent": "Silencieux : aucun rapport d'avancement depuis le {day}",
        "pledge.never_reported": "jamais",
        "pledge.version": "Version",
        "pledge.tags": "Étiquettes",
        "pledge.gcm": "Objectifs du PMM",
        "pledge.gcr": "Domaines du PMR",
        "pledge.sdg": "Cibles ODD",
        "pledge.priority": "Domaines prioritaires",
        "pledge.none": "aucun",
        "pledge.external_ids": "Identifiants externes",
        "pledge.indicators": "Indicateurs",
        "pledge.baseline": "Situation de référence",
        "pledge.target": "Cible",
        "pledge.actual": "Rapporté",
        "pledge.measure": "Mesure",
        "pledge.date": "Date",
        "pledge.value": "Valeur",
        "pledge.series": "Série",
        "pledge.no_values": "Cet indicateur est qualitatif : ses rapports n'ont pas de chiffres.",
        "pledge.matches": "Appariements",
        "pledge.match_pledge": "Soutenu par l'engagement {pledge}",
        "pledge.match_funder": "Financé par {funder}",
        "pledge.quality": "Signalements de qualité",
        "pledge.errata": "Errata",
        "pledge.timeline": "Chronologie",
        "pledge.timeline_intro": (
            "Chaque événement de cet engagement, tel qu'enregistré dans le journal public, "
            "du plus ancien au plus récent."
        ),
        "pledge.timeline_later": "{count} événement(s) postérieur(s) à la date affichée.",
        "pledge.validation": "Validation",
        "pledge.verify": "Vérifier cet engagement",
        "pledge.verify_text": (
            "Un auditeur vérifie l'historique de cet engagement sans faire confiance à ce "
            "serveur : il télécharge le paquet d'audit ou pointe le vérificateur vers le "
            "serveur, avec la clé publiée."
        ),
        "event.recorded_by": "Enregistré par",
        "event.recorded_at": "Enregistré le",
        "event.occurred_on": "Survenu le",
        "event.on_behalf_of": "Au nom de",
        "event.leaf": "Feuille {index}",
        "event.not_logged": "pas encore dans le journal",
        "event.receipt": "Reçu",
        "event.envelope": "Enveloppe exacte",
        "event.before": "Avant",
        "event.after": "Après",
        "event.field": "Champ",
        "event.reason": "Motif",
        "event.note": "Note",
        "event.criteria": "Critères",
        "event.period": "Période",
        "event.observations": "Observations",
        "event.narrative": "Récit",
        "event.evidence": "Preuves",
        "event.corrects": "Corrige {event}",
        "event.corrected": "Corrigé par un erratum",
        "event.erratum": "Erratum",
        "event.translation": "Traduction",
        "event.material": "changement substantiel",
        "event.not_material": "changement non substantiel",
        "type.pledge.submitted": "Soumis",
        "type.pledge.amended": "Modifié",
        "type.pledge.validated": "Validé",
        "type.pledge.changes_requested": "Modifications demandées",
        "type.pledge.progress_reported": "Avancement rapporté",
        "type.pledge.matched": "Apparié",
        "type.pledge.withdrawn": "Retiré",
        "type.pledge.closed": "Clos",
        "type.pledge.erratum_recorded": "Erratum",
        "type.network.registered": "Réseau enregistré",
        "type.network.city_joined": "Ville entrée dans un réseau",
        "type.network.city_left": "Ville sortie d'un réseau",
        "type.city.registered": "Ville enregistrée",
        "type.declaration.signed": "Déclaration signée",
        "type.apikey.issued": "Clé d'API émise",
        "type.apikey.revoked": "Clé d'API révoquée",
        "status.awaiting_validation": "En attente de validation",
        "status.changes_requested": "Modifications demandées",
        "status.validated": "Validé",
        "status.withdrawn": "Retiré",
        "status.closed": "Clos",
        "stage.not_started": "Pas commencé",
        "stage.planning": "En préparation",
        "stage.in_progress": "En cours",
        "stage.on_hold": "Suspendu",
        "stage.completed": "Achevé",
        "outcome.fulfilled": "Tenu",
        "outcome.partially_fulfilled": "Partiellement tenu",
        "outcome.not_fulfilled": "Non tenu",
        "group.network": "Réseau",
        "group.city": "Ville",
        "group.country": "Pays",
        "group.registered": "Enregistré le",
        "group.rollup": "Synthèse",
        "group.by_status": "Par statut",
        "group.by_gcm": "Par objectif du PMM",
        "group.by_gcr": "Par domaine du PMR",
        "group.freshness": "Fraîcheur des rapports",
        "group.fresh": "Rapport dans les {months} mois",
        "group.silent_count": "Silencieux",
        "group.silent": "Engagements silencieux",
        "group.silent_more": "Tous les engagements silencieux",
        "group.members": "Villes membres",
        "group.networks": "Réseaux",
        "group.signatures": "Signatures de déclarations",
        "group.no_signatures": "Aucune déclaration signée.",
        "group.pledges": "Engagements",
        "group.all_pledges": "Tous les engagements de {name}",
        "group.validated_share": "Validés",
        "report.title": "Rapport de redevabilité",
        "report.intro": (
            "Le rapport à une date est calculé à partir du seul journal public : un auditeur "
            "qui reprend les mêmes entrées obtient les mêmes chiffres et la même empreinte."
        ),
        "report.as_of": "À la date du",
        "report.network": "Réseau",
        "report.all_networks": "Tous les réseaux",
        "report.format": "Format",
        "report.show": "Afficher le rapport",
        "report.download": "Télécharger",
        "report.digest": "Empreinte SHA-256",
        "report.tree_size": "Repose sur les {size} premières entrées du journal",
        "report.checkpoint": "Point de contrôle signé cité",
        "report.no_checkpoint": "Aucun point de contrôle signé ne couvre encore ces entrées.",
        "report.pick": "Choisissez une date pour calculer le rapport.",
        "report.silent": "Engagements silencieux",
        "report.indicators": "Avancement des indicateurs",
        "audit.title": "Audit",
        "audit.intro": (
            "Le journal est un arbre de Merkle RFC 9162 sur tous les événements ; ses racines "
            "sont signées en points de contrôle C2SP. Gardez le point de contrôle et la clé : "
            "ils permettent de prouver plus tard que le journal n'a jamais fait que s'allonger."
        ),
        "audit.checkpoint": "Dernier point de contrôle signé",
        "audit.size": "Taille de l'arbre",
        "audit.signed_at": "Signé le",
        "audit.key": "Clé de vérification",
        "audit.key_history": "Clés d'API dans le journal",
        "audit.key_id": "Identifiant de clé",
        "audit.role": "Rôle",
        "audit.issued": "Émise",
        "audit.revoked": "Révoquée",
        "audit.no_keys": "Aucune clé d'API n'a été émise.",
        "audit.consistency": "Cohérence entre deux tailles de l'arbre",
        "audit.from": "Taille ancienne",
        "audit.to": "Taille récente",
        "audit.check": "Vérifier",
        "audit.consistent": (
            "L'arbre de taille {to} prolonge l'arbre de taille {from_size} : c'est prouvé."
        ),
        "audit.proof": "Preuve de cohérence",
        "audit.verify": "Vérifiez vous-même",
        "audit.verify_server": "Contre ce serveur :",
        "audit.verify_bundle": "Contre un paquet téléchargé, hors ligne :",
        "audit.kept": "La fois suivante, tenez le journal au point de contrôle gardé :",
        "error.title": "Erreur {status}",
        "error.field": "Champ",
        "error.back": "Retour à l'accueil",
        "form.date_hint": "Date (AAAA-MM-JJ)",
    },
    "es": {
        "pledge.no_recent": "Ningún informe de avance en los últimos {months} meses",
        "event.kind": "Tipo de cambio",
        "event.log": "Registro público",
        "home.event": "Evento",
        "pledge.no_report_yet": "Todavía no hay informe de avance",
        "site.name": "Pledge Ledger",
        "site.tagline": (
            "El registro público y verificable de los compromisos de las ciudades con los "
            "migrantes y los refugiados"
        ),
        "site.about": (
            "Pledge Ledger registra lo que las ciudades y las redes de ciudades se comprometen "
            "a hacer por los migrantes y los refugiados en el marco del Pacto Mundial para la "
            "Migración y del Pacto Mundial sobre los Refugiados, y lo que después informan. "
            "Cada cambio es un evento de un registro público, en el que solo se añade, que "
            "cualquiera puede verificar: la historia de ningún compromiso puede reescribirse "
            "sin que se note."
        ),
        "site.skip": "Ir al contenido",
        "site.demo": (
            "Registro de demostración: todas las ciudades, redes y compromisos que aparecen "
            "aquí son ficticios."
        ),
        "nav.label": "Principal",
        "nav.home": "Inicio",
        "nav.pledges": "Compromisos",
        "nav.reports": "Informes",
        "nav.audit": "Auditoría",
        "nav.api": "API",
        "lang.label": "Idioma",
        "lang.choose": "Mostrar",
        "lang.original": "original en {language}",
        "footer.text": "Cada cifra procede del registro público.",
        "footer.audit": "Compruébelo usted mismo en la página de auditoría",
        "home.title": "Resumen",
        "home.totals": "Totales",
        "home.pledges": "Compromisos",
        "home.cities": "Ciudades",
        "home.networks": "Redes",
        "home.countries": "Países",
        "home.by_status": "Compromisos por estado",
        "home.freshness": "Actualidad de los informes",
        "home.freshness_text": (
            "{reported} de {open} compromisos abiertos informaron de su avance en los últimos "
            "{months} meses; {silent} están en silencio."
        ),
        "home.recent": "Actividad reciente",
        "home.no_events": "Todavía no se ha registrado nada.",
        "home.checkpoint": "Último punto de control firmado",
        "home.no_checkpoint": "Todavía no se ha firmado ningún punto de control.",
        "home.browse": "Ver todos los compromisos",
        "home.networks_list": "Redes",
        "chart.table": "Las cifras de este gráfico",
        "chart.label": "Etiqueta",
        "chart.value": "Valor",
        "chart.empty": "Todavía no hay cifras.",
        "list.title": "Compromisos",
        "list.filters": "Filtros",
        "list.search": "Buscar en títulos y descripciones",
        "list.network": "Red",
        "list.city": "Ciudad",
        "list.country": "País (código ISO)",
        "list.status": "Estado",
        "list.gcm_objective": "Objetivo del PMM",
        "list.gcr_area": "Ámbito del PMR",
        "list.sdg": "Objetivo o meta de los ODS",
        "list.priority_area": "Ámbito prioritario",
        "list.stale": "Solo los compromisos en silencio",
        "list.sort": "Ordenar por",
        "list.sort.id": "Identificador",
        "list.sort.updated": "Último cambio, el más reciente primero",
        "list.sort.submitted": "Presentación, la más reciente primero",
        "list.limit": "Por página",
        "list.any": "Cualquiera",
        "list.apply": "Aplicar filtros",
        "list.clear": "Quitar filtros",
        "list.results": "Resultados",
        "list.none": "Ningún compromiso coincide con estos filtros.",
        "list.next": "Página siguiente",
        "list.first": "Primera página",
        "list.csv": "Esta página en CSV",
        "list.share": (
            "Esta dirección conserva los filtros: compártala para mostrar la misma lista."
        ),
        "col.pledge": "Compromiso",
        "col.network": "Red",
        "col.cities": "Ciudades",
        "col.status": "Estado",
        "col.stage": "Etapa",
        "col.updated": "Último cambio",
        "col.last_report": "Último informe",
        "col.objectives": "Objetivos del PMM",
        "pledge.state": "Estado actual",
        "pledge.state_as_of": "Estado al final del {day}",
        "pledge.as_of": "A fecha de",
        "pledge.as_of_show": "Mostrar",
        "pledge.as_of_now": "Volver a hoy",
        "pledge.not_yet": "Este compromiso todavía no existía el {day}.",
        "pledge.description": "Descripción",
        "pledge.network": "Red",
        "pledge.cities": "Ciudades",
        "pledge.period": "Periodo",
        "pledge.period_text": "del {start} al {end}",
        "pledge.status": "Estado",
        "pledge.stage": "Etapa",
        "pledge.outcome": "Resultado",
        "pledge.freshness": "Informes",
        "pledge.reported": "Informó en los últimos {months} meses",
        "pledge.silent": "En silencio: ningún informe de avance desde el {day}",
        "pledge.never_reported": "nunca",
        "pledge.version": "Versión",
        "pledge.tags": "Etiquetas",
        "pledge.gcm": "Objetivos del PMM",
        "pledge.gcr": "Ámbitos del PMR",
        "pledge.sdg": "Metas de los ODS",
        "pledge.priority": "Ámbitos prioritarios",
        "pledge.none": "ninguno",
        "pledge.external_ids": "Identificadores externos",
        "pledge.indicators": "Indicadores",
        "pledge.baseline": "Línea de base",
        "pledge.target": "Meta",
        "pledge.actual": "Informado",
        "pledge.measure": "Medida",
        "pledge.date": "Fecha",
        "pledge.value": "Valor",
        "pledge.series": "Serie",
        "pledge.no_values": "Este indicador es cualitativo: sus informes no tienen cifras.",
        "pledge.matches": "Vínculos",
        "pledge.match_pledge": "Apoyado por el compromiso {pledge}",
        "pledge.match_funder": "Financiado por {funder}",
        "pledge.quality": "Alertas de calidad",
        "pledge.errata": "Erratas",
        "pledge.timeline": "Cronología",
        "pledge.timeline_intro": (
            "Cada evento de este compromiso, tal como consta en el registro público, del más "
            "antiguo al más reciente."
        ),
        "pledge.timeline_later": "{count} evento(s) posterior(es) a la fecha mostrada.",
        "pledge.validation": "Validación",
        "pledge.verify": "Verificar este compromiso",
        "pledge.verify_text": (
            "Un auditor comprueba la historia de este compromiso sin fiarse de este servidor: "
            "descarga el paquete de auditoría o apunta el verificador al servidor, con la "
            "clave publicada."
        ),
        "event.recorded_by": "Registrado por",
        "event.recorded_at": "Registrado",
        "event.occurred_on": "Ocurrido",
        "event.on_behalf_of": "En nombre de",
        "event.leaf": "Hoja {index}",
        "event.not_logged": "todavía no está en el registro",
        "event.receipt": "Recibo",
        "event.envelope": "Sobre exacto",
        "event.before": "Antes",
        "event.after": "Después",
        "event.field": "Campo",
        "event.reason": "Motivo",
        "event.note": "Nota",
        "event.criteria": "Criterios",
        "event.period": "Periodo",
        "event.observations": "Observaciones",
        "event.narrative": "Relato",
        "event.evidence": "Pruebas",
        "event.corrects": "Corrige {event}",
        "event.corrected": "Corregido por una errata",
        "event.erratum": "Errata",
        "event.translation": "Traducción",
        "event.material": "cambio sustancial",
        "event.not_material": "cambio no sustancial",
        "type.pledge.submitted": "Presentado",
        "type.pledge.amended": "Modificado",
        "type.pledge.validated": "Validado",
        "type.pledge.changes_requested": "Cambios solicitados",
        "type.pledge.progress_reported": "Avance informado",
        "type.pledge.matched": "Vinculado",
        "type.pledge.withdrawn": "Retirado",
        "type.pledge.closed": "Cerrado",
        "type.pledge.erratum_recorded": "Errata",
        "type.network.registered": "Red registrada",
        "type.network.city_joined": "Ciudad incorporada a una red",
        "type.network.city_left": "Ciudad salida de una red",
        "type.city.registered": "Ciudad registrada",
        "type.declaration.signed": "Declaración firmada",
        "type.apikey.issued": "Clave de API emitida",
        "type.apikey.revoked": "Clave de API revocada",
        "status.awaiting_validation": "Pendiente de validación",
        "status.changes_requested": "Cambios solicitados",
        "status.validated": "Validado",
        "status.withdrawn": "Retirado",
        "status.closed": "Cerrado",
        "stage.not_started": "Sin empezar",
        "stage.planning": "En preparación",
        "stage.in_progress": "En curso",
        "stage.on_hold": "En pausa",
        "stage.completed": "Terminado",
        "outcome.fulfilled": "Cumplido",
        "outcome.partially_fulfilled": "Cumplido en parte",
        "outcome.not_fulfilled": "No cumplido",
        "group.network": "Red",
        "group.city": "Ciudad",
        "group.country": "País",
        "group.registered": "Registrado",
        "group.rollup": "Síntesis",
        "group.by_status": "Por estado",
        "group.by_gcm": "Por objetivo del PMM",
        "group.by_gcr": "Por ámbito del PMR",
        "group.freshness": "Actualidad de los informes",
        "group.fresh": "Informó en {months} meses",
        "group.silent_count": "En silencio",
        "group.silent": "Compromisos en silencio",
        "group.silent_more": "Todos los compromisos en silencio",
        "group.members": "Ciudades miembro",
        "group.networks": "Redes",
        "group.signatures": "Firmas de declaraciones",
        "group.no_signatures": "Ninguna declaración firmada.",
        "group.pledges": "Compromisos",
        "group.all_pledges": "Todos los compromisos de {name}",
        "group.validated_share": "Validados",
        "report.title": "Informe de rendición de cuentas",
        "report.intro": (
            "El informe a una fecha se calcula solo a partir del registro público: un auditor "
            "que recorre las mismas entradas obtiene las mismas cifras y la misma huella."
        ),
        "report.as_of": "A fecha de",
        "report.network": "Red",
        "report.all_networks": "Todas las redes",
        "report.format": "Formato",
        "report.show": "Mostrar el informe",
        "report.download": "Descargar",
        "report.digest": "Huella SHA-256",
        "report.tree_size": "Se basa en las {size} primeras entradas del registro",
        "report.checkpoint": "Punto de control firmado que cita",
        "report.no_checkpoint": "Ningún punto de control firmado cubre todavía estas entradas.",
        "report.pick": "Elija una fecha para calcular el informe.",
        "report.silent": "Compromisos en silencio",
        "report.indicators": "Avance de los indicadores",
        "audit.title": "Auditoría",
        "audit.intro": (
            "El registro es un árbol de Merkle RFC 9162 sobre todos los eventos; sus raíces se "
            "firman como puntos de control C2SP. Guarde el punto de control y la clave: "
            "permiten demostrar más tarde que al registro solo se le ha añadido."
        ),
        "audit.checkpoint": "Último punto de control firmado",
        "audit.size": "Tamaño del árbol",
        "audit.signed_at": "Firmado",
        "audit.key": "Clave de verificación",
        "audit.key_history": "Claves de API en el registro",
        "audit.key_id": "Identificador de clave",
        "audit.role": "Rol",
        "audit.issued": "Emitida",
        "audit.revoked": "Revocada",
        "audit.no_keys": "No se ha emitido ninguna clave de API.",
        "audit.consistency": "Coherencia entre dos tamaños del árbol",
        "audit.from": "Tamaño anterior",
        "audit.to": "Tamaño posterior",
        "audit.check": "Comprobar",
        "audit.consistent": (
            "El árbol de tamaño {to} prolonga el árbol de tamaño {from_size}: demostrado."
        ),
        "audit.proof": "Prueba de coherencia",
        "audit.verify": "Verifíquelo usted mismo",
        "audit.verify_server": "Contra este servidor:",
        "audit.verify_bundle": "Contra un paquete descargado, sin conexión:",
        "audit.kept": "La próxima vez, compare el registro con el punto de control guardado:",
        "error.title": "Error {status}",
        "error.field": "Campo",
        "error.back": "Volver al inicio",
        "form.date_hint": "Fecha (AAAA-MM-DD)",
    },
}
