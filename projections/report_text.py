"""The words of a report in English, French and Spanish: headings, columns, codes and legend.

A report is handed to a forum in the reader's language (``--lang``). Our own words are
translated here, once, for every format. Texts that come from the log (pledge titles, network
and city names) are shown in the reader's language when the submitter gave it, otherwise in
the original, marked with its language code in brackets (``localized``). Taxonomy labels
(GCM objectives, GCR areas) come from ``domain/data/taxonomies.json``; where that file gives no
label in the reader's language, the English one is shown, marked ``[en]``.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.taxonomies import TaxonomyEntry
from domain.values import Language

LANGUAGES: tuple[Language, ...] = ("en", "fr", "es")


def localized(texts: Mapping[Language, str], lang: Language) -> str:
    """``texts`` in ``lang``; else English, else any, marked with the language shown."""
    if texts.get(lang):
        return texts[lang]
    fallbacks: tuple[Language, ...] = ("en", *sorted(texts))
    for fallback in fallbacks:
        if texts.get(fallback):
            return f"{texts[fallback]} [{fallback}]"
    return ""


def taxonomy_label(entry: TaxonomyEntry, lang: Language, *, short: bool) -> str:
    """A GCM objective's or GCR area's label in ``lang`` (English, marked, until the shipped
    taxonomies carry the reader's language)."""
    text = entry.short if short else entry.title
    labels = getattr(entry, "labels", None)  # per-language labels, when the file has them
    if isinstance(labels, Mapping) and isinstance(labels.get(lang), str):
        return str(labels[lang])
    return text if lang == "en" else f"{text} [en]"


# key -> (en, fr, es)
_WORDS: dict[str, tuple[str, str, str]] = {
    # title and source
    "title": (
        "Pledge Ledger accountability report as of {as_of}",
        "Rapport de redevabilité de Pledge Ledger au {as_of}",
        "Informe de rendición de cuentas de Pledge Ledger al {as_of}",
    ),
    "title_network": ("network {network}", "réseau {network}", "red {network}"),
    "title_framework_gcm": (
        "Global Compact for Migration (GCM)",
        "Pacte mondial sur les migrations (PMM)",
        "Pacto Mundial para la Migración (PMM)",
    ),
    "title_framework_gcr": (
        "Global Compact on Refugees (GCR)",
        "Pacte mondial sur les réfugiés (PMR)",
        "Pacto Mundial sobre los Refugiados (PMR)",
    ),
    "title_framework_all": ("GCM and GCR", "PMM et PMR", "PMM y PMR"),
    "source_entries": (
        "Computed from the first {tree_size} entries of the transparency log (tree size "
        "{tree_size}), events recorded by the end of {as_of} (UTC).",
        "Calculé sur les {tree_size} premières entrées du journal de transparence (taille "
        "d'arbre {tree_size}), événements enregistrés jusqu'à la fin du {as_of} (UTC).",
        "Calculado sobre las primeras {tree_size} entradas del registro de transparencia "
        "(tamaño del árbol {tree_size}), eventos registrados hasta el final del {as_of} (UTC).",
    ),
    "source_freshness": (
        "Freshness window: {months} months (silent: no report since {cutoff}).",
        "Fenêtre de fraîcheur : {months} mois (silencieux : aucun rapport depuis le {cutoff}).",
        "Ventana de actualidad: {months} meses (silencioso: ningún informe desde el {cutoff}).",
    ),
    "source_checkpoint": (
        "Signed checkpoint covering it: tree size {size}.",
        "Point de contrôle signé qui le couvre : taille d'arbre {size}.",
        "Punto de control firmado que lo cubre: tamaño del árbol {size}.",
    ),
    "source_no_checkpoint": (
        "No signed checkpoint covers these entries yet.",
        "Aucun point de contrôle signé ne couvre encore ces entrées.",
        "Ningún punto de control firmado cubre aún estas entradas.",
    ),
    "source_digest": (
        "SHA-256 of the report's canonical JSON form: {sha256}",
        "SHA-256 de la forme JSON canonique du rapport : {sha256}",
        "SHA-256 de la forma JSON canónica del informe: {sha256}",
    ),
    "none": ("None.", "Aucun.", "Ninguno."),
    # sections
    "section_legend": ("Legend", "Légende", "Leyenda"),
    "section_totals": ("Totals", "Totaux", "Totales"),
    "section_stages": (
        "Implementation stage",
        "Étape de mise en œuvre",
        "Etapa de implementación",
    ),
    "section_outcomes": (
        "Outcomes of closed pledges",
        "Résultats des engagements clos",
        "Resultados de los compromisos cerrados",
    ),
    "section_by_gcm_objective": ("By GCM objective", "Par objectif du PMM", "Por objetivo del PMM"),
    "section_by_gcr_area": ("By GCR area", "Par domaine du PMR", "Por área del PMR"),
    "section_by_network": ("By network", "Par réseau", "Por red"),
    "section_quality_flags": (
        "Quality flags by network",
        "Signaux de qualité par réseau",
        "Alertas de calidad por red",
    ),
    "section_indicator_progress": (
        "Indicator progress",
        "Progrès des indicateurs",
        "Avance de los indicadores",
    ),
    "section_silent_pledges": (
        "Silent pledges",
        "Engagements silencieux",
        "Compromisos silenciosos",
    ),
    "section_pledges": ("Pledges", "Engagements", "Compromisos"),
    # columns
    "col_name": ("name", "nom", "nombre"),
    "col_id": ("id", "id", "id"),
    "col_pledges": ("pledges", "engagements", "compromisos"),
    "col_open": ("open", "ouverts", "abiertos"),
    "col_awaiting_validation": (
        "awaiting validation",
        "en attente de validation",
        "pendientes de validación",
    ),
    "col_changes_requested": (
        "changes requested",
        "modifications demandées",
        "cambios solicitados",
    ),
    "col_validated": ("validated", "validés", "validados"),
    "col_withdrawn": ("withdrawn", "retirés", "retirados"),
    "col_closed": ("closed", "clos", "cerrados"),
    "col_share_validated": ("share validated", "part validée", "proporción validada"),
    "col_reported_within_window": (
        "reported within window",
        "rapport dans la fenêtre",
        "informe dentro de la ventana",
    ),
    "col_share_reported_within_window": (
        "share reported within window",
        "part avec rapport dans la fenêtre",
        "proporción con informe dentro de la ventana",
    ),
    "col_silent": ("silent", "silencieux", "silenciosos"),
    "col_measure": ("measure", "mesure", "medida"),
    "col_reported": ("reported", "avec rapport", "con informe"),
    "col_met_target": ("met target", "cible atteinte", "meta alcanzada"),
    "col_baseline_total": ("baseline total", "total de référence", "total de referencia"),
    "col_latest_total": ("latest total", "dernier total", "último total"),
    "col_target_total": ("target total", "total visé", "total previsto"),
    "col_network": ("network", "réseau", "red"),
    "col_cities": ("cities", "villes", "ciudades"),
    "col_status": ("status", "statut", "estado"),
    "col_stage": ("stage", "étape", "etapa"),
    "col_outcome": ("outcome", "résultat", "resultado"),
    "col_flagged": ("flagged pledges", "engagements signalés", "compromisos señalados"),
    "col_flags": ("quality flags", "signaux de qualité", "alertas de calidad"),
    "col_silent_since": ("silent since", "silencieux depuis", "silencioso desde"),
    "col_last_reported_on": ("last report", "dernier rapport", "último informe"),
    "col_external_ids": (
        "ids elsewhere",
        "identifiants ailleurs",
        "identificadores externos",
    ),
    "col_term": ("term", "terme", "término"),
    "col_meaning": ("meaning", "signification", "significado"),
    "col_all": ("all", "tous", "todos"),
    # statuses
    "status_awaiting_validation": (
        "awaiting validation",
        "en attente de validation",
        "pendiente de validación",
    ),
    "status_changes_requested": (
        "changes requested",
        "modifications demandées",
        "cambios solicitados",
    ),
    "status_validated": ("validated", "validé", "validado"),
    "status_withdrawn": ("withdrawn", "retiré", "retirado"),
    "status_closed": ("closed", "clos", "cerrado"),
    # stages
    "stage_not_started": ("not started", "non commencé", "no iniciado"),
    "stage_planning": ("planning", "planification", "planificación"),
    "stage_in_progress": ("in progress", "en cours", "en curso"),
    "stage_on_hold": ("on hold", "suspendu", "en pausa"),
    "stage_completed": ("completed", "achevé", "completado"),
    "stage_none": ("not reported", "non communiquée", "no informada"),
    # outcomes
    "outcome_fulfilled": ("fulfilled", "réalisé", "cumplido"),
    "outcome_partially_fulfilled": (
        "partially fulfilled",
        "partiellement réalisé",
        "cumplido en parte",
    ),
    "outcome_not_fulfilled": ("not fulfilled", "non réalisé", "no cumplido"),
    # flags
    "flag_fulfilled_below_target": (
        "closed as fulfilled below target",
        "clos comme réalisé sous la cible",
        "cerrado como cumplido por debajo de la meta",
    ),
    "flag_fulfilled_without_report": (
        "closed as fulfilled with no report",
        "clos comme réalisé sans aucun rapport",
        "cerrado como cumplido sin ningún informe",
    ),
    "flag_missing_baseline": (
        "missing baseline",
        "valeur de référence manquante",
        "falta la línea de base",
    ),
    "flag_target_passed_unreported": (
        "target date passed with no report",
        "date cible passée sans rapport",
        "fecha meta vencida sin informe",
    ),
    "flag_no_indicator": ("no indicator", "aucun indicateur", "ningún indicador"),
    "flag_qualitative_only": (
        "qualitative indicators only",
        "indicateurs qualitatifs seulement",
        "solo indicadores cualitativos",
    ),
    "flag_no_target": ("indicator without target", "indicateur sans cible", "indicador sin meta"),
    # legend
    "legend_open": (
        "open: neither withdrawn nor closed.",
        "ouvert : ni retiré ni clos.",
        "abierto: ni retirado ni cerrado.",
    ),
    "legend_silent": (
        "silent: open, with no progress report within the freshness window "
        "(since submission if it never reported).",
        "silencieux : ouvert, sans rapport d'avancement dans la fenêtre de fraîcheur "
        "(depuis la soumission s'il n'a jamais fait de rapport).",
        "silencioso: abierto, sin informe de avance dentro de la ventana de actualidad "
        "(desde la presentación si nunca informó).",
    ),
    "legend_stages": (
        "stages (as last reported): not started, planning, in progress, on hold, completed; "
        "a stage is how far implementation went, kept apart from the status.",
        "étapes (selon le dernier rapport) : non commencé, planification, en cours, suspendu, "
        "achevé ; l'étape dit où en est la mise en œuvre, indépendamment du statut.",
        "etapas (según el último informe): no iniciado, planificación, en curso, en pausa, "
        "completado; la etapa indica el avance de la implementación, aparte del estado.",
    ),
    "legend_flags": (
        "quality flags: derived on the report's day, never recorded as facts; they mark what "
        "a reader should check (closed as fulfilled below target or with no report, missing "
        "baseline, target date passed with no report, no indicator, qualitative indicators "
        "only, indicator without target).",
        "signaux de qualité : calculés au jour du rapport, jamais enregistrés comme des "
        "faits ; ils signalent ce qu'il faut vérifier (clos comme réalisé sous la cible ou "
        "sans rapport, valeur de référence manquante, date cible passée sans rapport, aucun "
        "indicateur, indicateurs qualitatifs seulement, indicateur sans cible).",
        "alertas de calidad: calculadas en la fecha del informe, nunca registradas como "
        "hechos; señalan qué verificar (cerrado como cumplido por debajo de la meta o sin "
        "informe, falta la línea de base, fecha meta vencida sin informe, ningún indicador, "
        "solo indicadores cualitativos, indicador sin meta).",
    ),
    "legend_marked": (
        "[en] after a name: not available in this language, shown in the language marked.",
        "[en] après un nom : non disponible dans cette langue, affiché dans la langue indiquée.",
        "[en] tras un nombre: no disponible en este idioma, se muestra en el idioma indicado.",
    ),
}


def word(key: str, lang: Language, **values: object) -> str:
    """Our own text ``key`` in ``lang``, with ``values`` filled in."""
    text = _WORDS[key][LANGUAGES.index(lang)]
    return text.format(**values) if values else text


def has_word(key: str) -> bool:
    return key in _WORDS


LEGEND_TERMS: tuple[str, ...] = ("open", "silent", "stages", "flags", "marked")
