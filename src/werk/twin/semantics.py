"""Semantic ids werk writes: IDTA submodel templates, ECLASS IRDIs, and werk's own IRIs.

The IRDIs are those the IDTA templates themselves carry (02006-2-0 Digital Nameplate, 02002
Contact Information, 02003-1-2 Technical Data); werk IRIs (``https://werk.dev/aas/...``) are used
only where no standard concept exists.
"""

from __future__ import annotations

# --- IDTA 02006-2-0 Digital Nameplate -----------------------------------------------------------
NAMEPLATE = "https://admin-shell.io/zvei/nameplate/2/0/Nameplate"
CONTACT_INFORMATION = (
    "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/ContactInformation"
)
PHONE = "https://admin-shell.io/zvei/nameplate/1/0/ContactInformations/ContactInformation/Phone"
EMAIL = "0173-1#02-AAQ836#005"

# plant-file key -> (idShort, semantic id, multi-language?)
NAMEPLATE_ELEMENTS: dict[str, tuple[str, str, bool]] = {
    "uri_of_the_product": ("URIOfTheProduct", "0173-1#02-AAY811#001", False),
    "manufacturer_name": ("ManufacturerName", "0173-1#02-AAO677#002", True),
    "product_designation": ("ManufacturerProductDesignation", "0173-1#02-AAW338#001", True),
    "product_root": ("ManufacturerProductRoot", "0173-1#02-AAU732#001", True),
    "product_family": ("ManufacturerProductFamily", "0173-1#02-AAU731#001", True),
    "product_type": ("ManufacturerProductType", "0173-1#02-AAO057#002", True),
    "order_code": ("OrderCodeOfManufacturer", "0173-1#02-AAO227#002", True),
    "article_number": ("ProductArticleNumberOfManufacturer", "0173-1#02-AAO676#003", True),
    "serial_number": ("SerialNumber", "0173-1#02-AAM556#002", False),
    "year_of_construction": ("YearOfConstruction", "0173-1#02-AAP906#001", False),
    "date_of_manufacture": ("DateOfManufacture", "0173-1#02-AAR972#002", False),
    "hardware_version": ("HardwareVersion", "0173-1#02-AAN270#002", True),
    "firmware_version": ("FirmwareVersion", "0173-1#02-AAM985#002", True),
    "software_version": ("SoftwareVersion", "0173-1#02-AAM737#002", True),
    "country_of_origin": ("CountryOfOrigin", "0173-1#02-AAO259#004", False),
}

CONTACT_ELEMENTS: dict[str, tuple[str, str]] = {
    "company": ("Company", "0173-1#02-AAW001#001"),
    "department": ("Department", "0173-1#02-AAO127#003"),
    "street": ("Street", "0173-1#02-AAO128#002"),
    "zip_code": ("Zipcode", "0173-1#02-AAO129#002"),
    "city": ("CityTown", "0173-1#02-AAO132#002"),
    "state": ("StateCounty", "0173-1#02-AAO133#002"),
    "national_code": ("NationalCode", "0173-1#02-AAO134#002"),
}
TELEPHONE_NUMBER = "0173-1#02-AAO136#002"
EMAIL_ADDRESS = "0173-1#02-AAO198#002"
ADDRESS_OF_ADDITIONAL_LINK = "0173-1#02-AAQ326#002"

# --- IDTA 02003-1-2 Technical Data ---------------------------------------------------------------
TECHNICAL_DATA = "https://admin-shell.io/ZVEI/TechnicalData/Submodel/1/2"
GENERAL_INFORMATION = "https://admin-shell.io/ZVEI/TechnicalData/GeneralInformation/1/1"
TECHNICAL_PROPERTIES = "https://admin-shell.io/ZVEI/TechnicalData/TechnicalProperties/1/1"
SEMANTIC_ID_NOT_AVAILABLE = "https://admin-shell.io/SemanticIdNotAvailable/1/1"
MANUFACTURER_NAME = "0173-1#02-AAO677#002"
MANUFACTURER_PRODUCT_DESIGNATION = "0173-1#02-AAW338#001"
MANUFACTURER_ARTICLE_NUMBER = "0173-1#02-AAO676#003"
MANUFACTURER_ORDER_CODE = "0173-1#02-AAO227#002"

# --- IDTA 02008-1-1 Time Series Data --------------------------------------------------------------
_TS = "https://admin-shell.io/idta/TimeSeries"
TIME_SERIES = f"{_TS}/1/1"
TS_METADATA = f"{_TS}/Metadata/1/1"
TS_METADATA_NAME = f"{_TS}/Metadata/Name/1/1"
TS_METADATA_DESCRIPTION = f"{_TS}/Metadata/Description/1/1"
TS_RECORD = f"{_TS}/Record/1/1"
TS_UTC_TIME = f"{_TS}/UtcTime/1/1"
TS_SEGMENTS = f"{_TS}/Segments/1/1"
TS_LINKED_SEGMENT = f"{_TS}/Segments/LinkedSegment/1/1"
TS_SEGMENT_NAME = f"{_TS}/Segment/Name/1/1"
TS_SEGMENT_DESCRIPTION = f"{_TS}/Segment/Description/1/1"
TS_SEGMENT_STATE = f"{_TS}/Segment/State/1/1"
TS_SAMPLING_INTERVAL = f"{_TS}/Segment/SamplingInterval/1/1"
TS_ENDPOINT = f"{_TS}/Endpoint/1/1"
TS_QUERY = f"{_TS}/Query/1/1"

# --- IDTA 02011-1-0 Hierarchical Structures enabling Bills of Material ---------------------------
_HS = "https://admin-shell.io/idta/HierarchicalStructures"
HIERARCHICAL_STRUCTURES = f"{_HS}/1/0/Submodel"
HS_ARCHE_TYPE = f"{_HS}/ArcheType/1/0"
HS_ENTRY_NODE = f"{_HS}/EntryNode/1/0"
HS_NODE = f"{_HS}/Node/1/0"
HS_HAS_PART = f"{_HS}/HasPart/1/0"

# --- IEC 61360 data specification (units of properties) -------------------------------------------
DATA_SPECIFICATION_IEC61360 = (
    "https://admin-shell.io/DataSpecificationTemplates/DataSpecificationIec61360/3"
)

# --- werk's own ----------------------------------------------------------------------------------
WERK = "https://werk.dev/aas"
OPERATIONAL_DATA = f"{WERK}/OperationalData/1/0"
OPERATIONAL_SIGNAL = f"{WERK}/OperationalData/Signal/1/0"
MATERIAL_FLOW = f"{WERK}/MaterialFlow/1/0"
FEEDS = f"{WERK}/MaterialFlow/Feeds/1/0"
PLANT_DEFINITION = f"{WERK}/PlantDefinition/1/0"
PLANT_FILE = f"{WERK}/PlantDefinition/PlantFile/1/0"
ISA95_LEVEL = f"{WERK}/Isa95Level/1/0"

# Qualifier and extension names werk writes.
SIGNAL_QUALIFIER = "WerkSignal"
SOURCE_QUALIFIER = "WerkSource"
MINIMUM_QUALIFIER = "WerkMinimum"
MAXIMUM_QUALIFIER = "WerkMaximum"
LEVEL_EXTENSION = "WerkIsa95Level"
