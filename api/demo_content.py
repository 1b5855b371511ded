"""What the demo is made of: regions and fictional place names, networks, and pledge themes.

Everything here is invented and labelled: city names are built from syllables that sound
plausible in a region's languages (no real city is meant; every name ends with "(demo)"), and
network names end with "(demo)" too. Themes are what cities actually pledge (language classes,
housing, health access, jobs, legal aid, schooling, anti-discrimination, data, …), each tagged
only with the GCM objectives, GCR areas, SDG targets and priority areas that fit it, and measured
by indicators of the kinds real pledges use: counts, percentages (some descending) and
qualitative milestones.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.values import Language


@dataclass(frozen=True, slots=True)
class Region:
    """Where demo cities are: countries, a language for local titles, and name syllables."""

    key: str
    weight: int
    countries: tuple[str, ...]
    language: Language | None
    """A second language of the region's pledges (titles and descriptions), beside English."""
    prefixes: tuple[str, ...]
    roots: tuple[str, ...]
    suffixes: tuple[str, ...]


REGIONS: tuple[Region, ...] = (
    Region(
        "latin-america",
        24,
        ("CO", "MX", "EC", "PE", "CL", "AR", "BR", "CR", "GT"),
        "es",
        ("San ", "Santa ", "Villa ", "Puerto ", "", "", "", ""),
        ("Alba", "Cor", "Mira", "Val", "Tor", "Lom", "Ceib", "Pal", "Ros", "Mon", "Arr", "Sal"),
        ("ales", "illa", "eros", "ada", "ondo", "ena", "itas", "al", "ino", "uela"),
    ),
    Region(
        "west-africa",
        14,
        ("SN", "CI", "ML", "GH", "BF", "NE", "GN"),
        "fr",
        ("", "", "", "N'", "Dia", "Ko"),
        ("Bam", "Tiv", "Kol", "Ndar", "Sou", "Kay", "Gor", "Zin", "Tam", "Bou", "Lin", "Mar"),
        ("ako", "ouane", "ougou", "ena", "ala", "inké", "adi", "oro", "ém", "assa"),
    ),
    Region(
        "north-africa-middle-east",
        14,
        ("MA", "TN", "JO", "LB", "EG", "TR", "DZ"),
        "fr",
        ("Al-", "Bir ", "Ain ", "", "", "", "Sidi "),
        ("Zar", "Qas", "Mad", "Tal", "Kar", "Ras", "Jab", "Sal", "Nah", "Bat", "Far", "Haz"),
        ("ima", "oun", "ara", "iya", "ek", "an", "oum", "abad", "ine", "el"),
    ),
    Region(
        "east-africa",
        12,
        ("KE", "UG", "ET", "TZ", "RW", "SO"),
        None,
        ("", "", "", "Ki", "Ma", "Nya"),
        ("Nak", "Kis", "Mom", "Gul", "Ara", "Emb", "Lod", "Kak", "Bun", "Hoi", "Mer", "Tan"),
        ("uru", "ama", "ani", "oto", "ele", "ima", "ondo", "asa", "ugi", "eti"),
    ),
    Region(
        "europe",
        20,
        ("ES", "IT", "DE", "FR", "BE", "NL", "PT", "GR", "SE", "PL"),
        "fr",
        ("Saint-", "Neu", "Porto ", "Val ", "", "", "", "", "Ober"),
        ("Bren", "Lind", "Mar", "Fal", "Rov", "Ost", "Kal", "Ber", "Wal", "Mont", "Ser", "Lis"),
        ("burg", "ano", "heim", "ville", "ova", "stad", "ac", "ore", "enza", "dorf"),
    ),
    Region(
        "north-america",
        8,
        ("CA", "US"),
        None,
        ("Port ", "New ", "Lake ", "", "", "", "Fort "),
        ("Ash", "Bright", "Cedar", "Elm", "Glen", "Harbor", "Maple", "Oak", "Pine", "Stone"),
        ("ford", "field", "ton", "wood", "ville", "bridge", "dale", "view", "mouth", "port"),
    ),
    Region(
        "asia-pacific",
        12,
        ("PH", "ID", "BD", "TH", "MY", "NP", "LK"),
        None,
        ("San ", "Ban ", "Kota ", "", "", "", ""),
        ("Taw", "Mal", "Sur", "Dav", "Pad", "Kul", "Lam", "Sib", "Rat", "Chan", "Bal", "Kan"),
        ("ang", "aya", "ipur", "aga", "ong", "ari", "abad", "uri", "elo", "ima"),
    ),
)


@dataclass(frozen=True, slots=True)
class DemoNetwork:
    """A demo network; ``regions`` empty means it takes members everywhere."""

    id: str
    name: dict[Language, str]
    regions: tuple[str, ...]
    share: float
    """The chance that a city it may take joins it."""


NETWORKS: tuple[DemoNetwork, ...] = (
    DemoNetwork(
        "demo-welcoming-cities",
        {
            "en": "Welcoming Cities Network (demo)",
            "fr": "Réseau des villes accueillantes (démo)",
            "es": "Red de Ciudades Acogedoras (demo)",
        },
        (),
        0.22,
    ),
    DemoNetwork(
        "demo-coastal-mayors",
        {"en": "Coastal Mayors Forum (demo)", "fr": "Forum des maires côtiers (démo)"},
        ("latin-america", "west-africa", "europe", "asia-pacific", "north-america"),
        0.18,
    ),
    DemoNetwork(
        "demo-inland-alliance",
        {"en": "Inland Cities Alliance (demo)", "es": "Alianza de Ciudades del Interior (demo)"},
        ("latin-america", "east-africa", "north-africa-middle-east", "europe"),
        0.18,
    ),
    DemoNetwork("demo-new-neighbours", {"en": "New Neighbours Network (demo)"}, (), 0.12),
    DemoNetwork(
        "demo-red-ciudades-andinas",
        {"en": "Andean and Pacific Cities Network (demo)", "es": "Red de Ciudades Andinas (demo)"},
        ("latin-america",),
        0.45,
    ),
    DemoNetwork(
        "demo-reseau-sahel-maghreb",
        {
            "en": "Sahel and Maghreb Cities Network (demo)",
            "fr": "Réseau des villes du Sahel et du Maghreb (démo)",
        },
        ("west-africa", "north-africa-middle-east"),
        0.45,
    ),
    DemoNetwork(
        "demo-east-african-cities",
        {"en": "East African Cities for Inclusion (demo)"},
        ("east-africa",),
        0.55,
    ),
    DemoNetwork(
        "demo-eurocities-inclusion",
        {
            "en": "European Cities for Inclusion (demo)",
            "fr": "Villes européennes pour l'inclusion (démo)",
        },
        ("europe",),
        0.5,
    ),
    DemoNetwork(
        "demo-asia-pacific-mayors",
        {"en": "Asia-Pacific Mayors for Migrants (demo)"},
        ("asia-pacific",),
        0.55,
    ),
    DemoNetwork(
        "demo-north-american-welcome",
        {"en": "North American Welcoming Mayors (demo)", "fr": "Maires accueillants (démo)"},
        ("north-america",),
        0.6,
    ),
)


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """An indicator a theme's pledges may carry.

    ``measure`` is unit, percentage or qualitative. For a number, the baseline is drawn from
    ``baseline`` and the target from ``target`` (percentages within 0..100; a descending
    indicator's target lies below its baseline). A qualitative indicator has ``milestone`` as
    its target's comment and no values.
    """

    id: str
    title: dict[Language, str]
    measure: str
    ascending: bool = True
    baseline: tuple[int, int] = (0, 0)
    target: tuple[int, int] = (0, 0)
    milestone: str = ""


@dataclass(frozen=True, slots=True)
class Theme:
    key: str
    titles: tuple[dict[Language, str], ...]
    action: dict[Language, str]
    """What the city does, completing "The city will …" (and its fr / es forms)."""
    gcm_objectives: tuple[int, ...]
    gcr_areas: tuple[str, ...]
    sdg_targets: tuple[str, ...]
    priority_areas: tuple[str, ...]
    indicators: tuple[IndicatorSpec, ...]
    weight: int = 10


def _people(id_: str, en: str, fr: str, es: str, low: int, high: int) -> IndicatorSpec:
    return IndicatorSpec(id_, {"en": en, "fr": fr, "es": es}, "unit", True, (0, 0), (low, high))


THEMES: tuple[Theme, ...] = (
    Theme(
        "language-classes",
        (
            {
                "en": "Language classes for adult newcomers",
                "fr": "Cours de langue pour adultes nouvellement arrivés",
                "es": "Clases de idioma para personas adultas recién llegadas",
            },
            {
                "en": "Free evening language courses in neighbourhood libraries",
                "fr": "Cours de langue gratuits en soirée dans les bibliothèques de quartier",
                "es": "Cursos de idioma gratuitos por la tarde en bibliotecas de barrio",
            },
        ),
        {
            "en": "offer free language classes to adult newcomers, with childcare during lessons",
            "fr": "proposer des cours de langue gratuits aux adultes nouvellement arrivés, avec "
            "une garde d'enfants pendant les cours",
            "es": "ofrecer clases de idioma gratuitas a personas adultas recién llegadas, con "
            "cuidado infantil durante las clases",
        },
        (16, 18),
        ("gcr-poa-III.B.2.1", "grf2019-focus-2"),
        ("4.6", "4.4", "10.2"),
        ("education", "inclusion-and-social-cohesion"),
        (
            _people(
                "learners-enrolled",
                "Adult learners enrolled",
                "Adultes inscrits",
                "Personas adultas inscritas",
                300,
                4000,
            ),
            IndicatorSpec(
                "a2-level-reached",
                {
                    "en": "Learners reaching level A2 (%)",
                    "fr": "Apprenants atteignant le niveau A2 (%)",
                    "es": "Estudiantes que alcanzan el nivel A2 (%)",
                },
                "percentage",
                True,
                (20, 45),
                (55, 80),
            ),
        ),
        weight=14,
    ),
    Theme(
        "housing",
        (
            {
                "en": "Affordable housing for newly arrived families",
                "fr": "Logement abordable pour les familles nouvellement arrivées",
                "es": "Vivienda asequible para familias recién llegadas",
            },
            {
                "en": "Rental guarantee scheme for refugee households",
                "fr": "Garantie locative pour les ménages réfugiés",
                "es": "Garantía de alquiler para hogares refugiados",
            },
        ),
        {
            "en": "help newly arrived households into decent, affordable rented homes",
            "fr": "aider les ménages nouvellement arrivés à accéder à un logement locatif décent",
            "es": "ayudar a los hogares recién llegados a acceder a una vivienda digna",
        },
        (15, 16),
        ("gcr-poa-III.B.2.6", "gcr-poa-III.B.3.4"),
        ("11.1", "1.4"),
        ("housing",),
        (
            _people(
                "households-housed",
                "Households housed",
                "Ménages logés",
                "Hogares alojados",
                50,
                900,
            ),
            IndicatorSpec(
                "waiting-days",
                {
                    "en": "Average wait for housing (days)",
                    "fr": "Attente moyenne d'un logement (jours)",
                    "es": "Espera media de vivienda (días)",
                },
                "unit",
                False,
                (150, 300),
                (45, 120),
            ),
        ),
    ),
    Theme(
        "health-access",
        (
            {
                "en": "Access to municipal health services regardless of status",
                "fr": "Accès aux services municipaux de santé quel que soit le statut",
                "es": "Acceso a los servicios municipales de salud sin importar el estatus",
            },
            {
                "en": "Interpreters in community health centres",
                "fr": "Interprètes dans les centres de santé communautaires",
                "es": "Intérpretes en los centros de salud comunitarios",
            },
        ),
        {
            "en": "open municipal clinics to every resident, with interpreters and no status "
            "checks",
            "fr": "ouvrir les centres de santé municipaux à tous les habitants, avec des "
            "interprètes",
            "es": "abrir los centros de salud municipales a todas las personas residentes, con "
            "intérpretes",
        },
        (15, 22),
        ("gcr-poa-III.B.2.3",),
        ("3.8", "10.2"),
        ("health", "access-to-services"),
        (
            _people(
                "patients-registered",
                "People registered with a family doctor",
                "Personnes inscrites chez un médecin traitant",
                "Personas inscritas con un médico de familia",
                500,
                12000,
            ),
            IndicatorSpec(
                "clinics-with-interpreters",
                {
                    "en": "Clinics with interpreters (%)",
                    "fr": "Centres avec interprètes (%)",
                    "es": "Centros con intérpretes (%)",
                },
                "percentage",
                True,
                (5, 30),
                (60, 100),
            ),
            IndicatorSpec(
                "mental-health-pathway",
                {
                    "en": "Mental health referral pathway",
                    "fr": "Parcours d'orientation en santé mentale",
                    "es": "Ruta de derivación en salud mental",
                },
                "qualitative",
                milestone="Referral pathway agreed with the regional health authority",
            ),
        ),
        weight=12,
    ),
    Theme(
        "jobs-and-skills",
        (
            {
                "en": "Job placement and recognition of foreign qualifications",
                "fr": "Insertion professionnelle et reconnaissance des diplômes étrangers",
                "es": "Inserción laboral y reconocimiento de títulos extranjeros",
            },
            {
                "en": "Vocational training with local employers",
                "fr": "Formation professionnelle avec les employeurs locaux",
                "es": "Formación profesional con empresas locales",
            },
        ),
        {
            "en": "match migrants' skills with local employers and speed up recognition of "
            "qualifications",
            "fr": "rapprocher les compétences des personnes migrantes des employeurs locaux",
            "es": "vincular las competencias de las personas migrantes con empresas locales",
        },
        (6, 18),
        ("gcr-poa-III.B.2.2", "grf2019-focus-3", "gcr-objective-2"),
        ("8.5", "8.8", "4.4"),
        ("decent-work-and-skills",),
        (
            _people(
                "people-placed",
                "People placed in work",
                "Personnes en emploi",
                "Personas con empleo",
                100,
                2500,
            ),
            _people(
                "qualifications-recognised",
                "Qualifications recognised",
                "Diplômes reconnus",
                "Títulos reconocidos",
                50,
                800,
            ),
            IndicatorSpec(
                "employed-after-a-year",
                {
                    "en": "Participants employed after 12 months (%)",
                    "fr": "Participants en emploi après 12 mois (%)",
                    "es": "Participantes con empleo a los 12 meses (%)",
                },
                "percentage",
                True,
                (15, 35),
                (45, 70),
            ),
        ),
        weight=14,
    ),
    Theme(
        "legal-aid",
        (
            {
                "en": "Free legal aid desk for migrants",
                "fr": "Permanence gratuite d'aide juridique pour les migrants",
                "es": "Oficina gratuita de asistencia jurídica para migrantes",
            },
        ),
        {
            "en": "run a free legal aid desk on residence, documents and labour rights",
            "fr": "tenir une permanence juridique gratuite sur le séjour, les papiers et le "
            "droit du travail",
            "es": "mantener una oficina jurídica gratuita sobre residencia, documentos y "
            "derechos laborales",
        },
        (4, 7),
        ("gcr-poa-III.B.1.4", "grf2019-focus-6"),
        ("16.3", "16.9"),
        ("access-to-services",),
        (
            _people(
                "consultations",
                "Legal consultations given",
                "Consultations juridiques",
                "Consultas jurídicas",
                400,
                6000,
            ),
            IndicatorSpec(
                "cases-resolved",
                {
                    "en": "Cases resolved within 6 months (%)",
                    "fr": "Dossiers résolus en 6 mois (%)",
                    "es": "Casos resueltos en 6 meses (%)",
                },
                "percentage",
                True,
                (30, 50),
                (60, 85),
            ),
        ),
    ),
    Theme(
        "schooling",
        (
            {
                "en": "School enrolment for newcomer children",
                "fr": "Scolarisation des enfants nouvellement arrivés",
                "es": "Escolarización de niñas y niños recién llegados",
            },
        ),
        {
            "en": "enrol every newcomer child in school within three months of arrival",
            "fr": "scolariser chaque enfant nouvellement arrivé dans les trois mois",
            "es": "escolarizar a cada niña y niño recién llegado en tres meses",
        },
        (15, 16),
        ("gcr-poa-III.B.2.1", "gcr-poa-III.B.2.5", "grf2019-focus-2"),
        ("4.1", "4.5"),
        ("education",),
        (
            _people(
                "children-enrolled",
                "Children enrolled",
                "Enfants scolarisés",
                "Niñas y niños escolarizados",
                100,
                3000,
            ),
            IndicatorSpec(
                "enrolled-within-three-months",
                {
                    "en": "Children enrolled within 3 months (%)",
                    "fr": "Enfants scolarisés en 3 mois (%)",
                    "es": "Escolarizados en 3 meses (%)",
                },
                "percentage",
                True,
                (40, 70),
                (85, 100),
            ),
        ),
        weight=12,
    ),
    Theme(
        "anti-discrimination",
        (
            {
                "en": "City campaign against discrimination and hate speech",
                "fr": "Campagne municipale contre les discriminations et les discours de haine",
                "es": "Campaña municipal contra la discriminación y el discurso de odio",
            },
            {
                "en": "Anti-discrimination training for municipal staff",
                "fr": "Formation des agents municipaux contre les discriminations",
                "es": "Formación contra la discriminación para personal municipal",
            },
        ),
        {
            "en": "train its staff, support victims and report on discrimination every year",
            "fr": "former ses agents, soutenir les victimes et publier un bilan annuel",
            "es": "formar a su personal, apoyar a las víctimas y publicar un informe anual",
        },
        (17, 16),
        ("gcr-poa-III.B.2.10",),
        ("10.3", "16.b"),
        ("anti-discrimination", "inclusion-and-social-cohesion"),
        (
            _people(
                "staff-trained",
                "Municipal staff trained",
                "Agents formés",
                "Personal formado",
                100,
                2000,
            ),
            IndicatorSpec(
                "action-plan",
                {
                    "en": "Local anti-discrimination plan",
                    "fr": "Plan local contre les discriminations",
                    "es": "Plan local contra la discriminación",
                },
                "qualitative",
                milestone="Plan adopted by the city council",
            ),
        ),
    ),
    Theme(
        "data",
        (
            {
                "en": "Local data on migrant inclusion",
                "fr": "Données locales sur l'inclusion des personnes migrantes",
                "es": "Datos locales sobre la inclusión de personas migrantes",
            },
        ),
        {
            "en": "publish yearly, disaggregated data on how migrants use city services",
            "fr": "publier chaque année des données ventilées sur l'accès aux services",
            "es": "publicar cada año datos desagregados sobre el acceso a los servicios",
        },
        (1, 23),
        ("gcr-poa-III.A.3.3",),
        ("17.18", "10.7"),
        ("inclusion-and-social-cohesion",),
        (
            IndicatorSpec(
                "services-reporting",
                {
                    "en": "City services reporting disaggregated data (%)",
                    "fr": "Services municipaux publiant des données ventilées (%)",
                    "es": "Servicios con datos desagregados (%)",
                },
                "percentage",
                True,
                (0, 20),
                (50, 100),
            ),
            IndicatorSpec(
                "observatory",
                {
                    "en": "Local migration observatory",
                    "fr": "Observatoire local des migrations",
                    "es": "Observatorio local de migraciones",
                },
                "qualitative",
                milestone="First yearly report published",
            ),
        ),
        weight=6,
    ),
    Theme(
        "welcome-centre",
        (
            {
                "en": "One-stop welcome centre for newcomers",
                "fr": "Guichet unique d'accueil des nouveaux arrivants",
                "es": "Ventanilla única de acogida para personas recién llegadas",
            },
        ),
        {
            "en": "open a welcome centre giving orientation, referrals and information in "
            "several languages",
            "fr": "ouvrir un guichet d'accueil offrant orientation et information en plusieurs "
            "langues",
            "es": "abrir un centro de acogida con orientación e información en varios idiomas",
        },
        (3, 15),
        ("gcr-poa-III.B.1.2",),
        ("10.7", "16.7"),
        ("access-to-services",),
        (
            _people(
                "people-served",
                "People served",
                "Personnes accompagnées",
                "Personas atendidas",
                500,
                12000,
            ),
            _people(
                "languages-offered",
                "Languages offered",
                "Langues proposées",
                "Idiomas ofrecidos",
                4,
                15,
            ),
        ),
        weight=12,
    ),
    Theme(
        "emergency-shelter",
        (
            {
                "en": "Emergency shelter for displaced families",
                "fr": "Hébergement d'urgence pour les familles déplacées",
                "es": "Albergue de emergencia para familias desplazadas",
            },
        ),
        {
            "en": "keep emergency shelter places open for displaced families all year",
            "fr": "maintenir des places d'hébergement d'urgence pour les familles déplacées",
            "es": "mantener plazas de albergue de emergencia para familias desplazadas",
        },
        (7, 15),
        ("gcr-poa-III.B.1.2", "gcr-poa-III.B.1.5", "gcr-objective-1"),
        ("11.1", "1.5"),
        ("housing",),
        (
            _people(
                "shelter-places",
                "Shelter places open",
                "Places d'hébergement",
                "Plazas de albergue",
                20,
                400,
            ),
        ),
        weight=8,
    ),
    Theme(
        "women-entrepreneurs",
        (
            {
                "en": "Support for migrant and refugee women entrepreneurs",
                "fr": "Soutien aux entrepreneuses migrantes et réfugiées",
                "es": "Apoyo a emprendedoras migrantes y refugiadas",
            },
        ),
        {
            "en": "give migrant and refugee women start-up grants, mentoring and childcare",
            "fr": "offrir aux femmes migrantes et réfugiées des aides au démarrage et un mentorat",
            "es": "ofrecer a mujeres migrantes y refugiadas capital semilla y mentoría",
        },
        (6, 16),
        ("gcr-poa-III.B.2.4", "gcr-poa-III.B.2.2"),
        ("5.5", "8.3"),
        ("decent-work-and-skills",),
        (
            _people(
                "businesses-started",
                "Businesses started",
                "Entreprises créées",
                "Empresas creadas",
                20,
                400,
            ),
        ),
        weight=6,
    ),
    Theme(
        "diaspora",
        (
            {
                "en": "Diaspora partnership for local development",
                "fr": "Partenariat avec la diaspora pour le développement local",
                "es": "Alianza con la diáspora para el desarrollo local",
            },
        ),
        {
            "en": "co-finance local projects with diaspora associations and lower the cost "
            "of sending money home",
            "fr": "cofinancer des projets locaux avec les associations de la diaspora",
            "es": "cofinanciar proyectos locales con asociaciones de la diáspora",
        },
        (19, 20),
        (),
        ("10.c", "17.3"),
        ("inclusion-and-social-cohesion",),
        (
            _people(
                "projects-cofinanced",
                "Projects co-financed",
                "Projets cofinancés",
                "Proyectos cofinanciados",
                5,
                60,
            ),
        ),
        weight=4,
    ),
    Theme(
        "local-integration",
        (
            {
                "en": "Local integration pathway for resettled refugees",
                "fr": "Parcours d'intégration locale pour les réfugiés réinstallés",
                "es": "Ruta de integración local para personas refugiadas reasentadas",
            },
        ),
        {
            "en": "welcome resettled refugees with a year-long pathway of housing, language "
            "and work",
            "fr": "accueillir des réfugiés réinstallés avec un parcours d'un an",
            "es": "acoger a personas refugiadas reasentadas con una ruta de un año",
        },
        (16, 15),
        ("gcr-poa-III.B.3.4", "gcr-poa-III.B.3.2", "gcr-objective-3"),
        ("10.7", "11.1"),
        ("inclusion-and-social-cohesion", "housing"),
        (
            _people(
                "refugees-welcomed",
                "Refugees welcomed",
                "Réfugiés accueillis",
                "Personas refugiadas acogidas",
                20,
                600,
            ),
        ),
        weight=6,
    ),
)

FUNDERS = (
    "Demo Urban Inclusion Fund",
    "Demo Solidarity Foundation",
    "Demo Regional Development Bank",
    "Demo Cities Alliance Trust",
)
