"""The AAS model of a plant: one shell per asset, IDTA templates, stable ids, live bindings."""

from __future__ import annotations

from basyx.aas import model

from werk.twin import semantics as sem
from werk.twin.aas import TwinEnvironment, build_environment, live_bindings, shell_id, submodel_id
from werk.twin.files import canonical_json
from werk.twin.plant import Plant

from .conftest import BASE_URL


def semantic(element: model.HasSemantics) -> str:
    assert element.semantic_id is not None
    return str(element.semantic_id.key[0].value)


def test_one_shell_per_asset(example_plant: Plant, example_env: TwinEnvironment) -> None:
    shells = example_env.shells()
    assert sorted(s.id_short or "" for s in shells) == sorted(a.id for a in example_plant.assets)
    press = example_env.get(shell_id(example_plant, "press1"))
    assert isinstance(press, model.AssetAdministrationShell)
    assert press.asset_information.global_asset_id == "https://acme.example/assets/press-4711"
    line = example_env.get(shell_id(example_plant, "line1"))
    assert isinstance(line, model.AssetAdministrationShell)
    assert line.asset_information.global_asset_id == "urn:werk:bremen:line1"
    assert [e.value for e in line.extension] == ["line"]
    names = {ref.key[0].value.rsplit(":", 1)[1] for ref in press.submodel}
    assert names == {"Nameplate", "TechnicalData", "TimeSeries", "OperationalData", "MaterialFlow"}


def test_same_plant_same_model(example_plant: Plant, example_env: TwinEnvironment) -> None:
    again = build_environment(example_plant, base_url=BASE_URL)
    assert canonical_json(again) == canonical_json(example_env)


def test_submodels_carry_template_semantic_ids(
    example_plant: Plant, example_env: TwinEnvironment
) -> None:
    nameplate = example_env.get(submodel_id(example_plant, "press1", "Nameplate"))
    assert isinstance(nameplate, model.Submodel)
    assert semantic(nameplate) == sem.NAMEPLATE
    by_name = {e.id_short: semantic(e) for e in nameplate.submodel_element}
    assert by_name["ManufacturerName"] == "0173-1#02-AAO677#002"
    assert by_name["SerialNumber"] == "0173-1#02-AAM556#002"
    assert by_name["ContactInformation"] == sem.CONTACT_INFORMATION
    kinds = {
        submodel.id_short: semantic(submodel)
        for submodel in example_env.submodels()
        if submodel.id.startswith("urn:werk:bremen:sm:press1:")
    }
    assert kinds["TechnicalData"] == sem.TECHNICAL_DATA
    assert kinds["TimeSeries"] == sem.TIME_SERIES
    assert kinds["OperationalData"] == sem.OPERATIONAL_DATA
    for submodel in example_env.submodels():
        assert submodel.semantic_id is not None
        for element in submodel.submodel_element:
            assert element.semantic_id is not None, (submodel.id, element.id_short)


def test_time_series_link_to_the_history_api(
    example_plant: Plant, example_env: TwinEnvironment
) -> None:
    series = example_env.get(submodel_id(example_plant, "press1", "TimeSeries"))
    assert isinstance(series, model.Submodel)
    segments = series.get_referable("Segments")
    assert isinstance(segments, model.SubmodelElementCollection)
    temperature = segments.get_referable("temperature")
    assert isinstance(temperature, model.SubmodelElementCollection)
    assert semantic(temperature) == sem.TS_LINKED_SEGMENT
    values = {e.id_short: getattr(e, "value", None) for e in temperature.value}
    assert values["Endpoint"] == f"{BASE_URL}/api/v1/history"
    assert values["Query"] == "signal=press1.temperature"
    assert len(segments.value) == 4


def test_live_bindings_map_operational_properties_to_signals(
    example_plant: Plant, example_env: TwinEnvironment
) -> None:
    bindings = live_bindings(example_env.objects)
    operational = submodel_id(example_plant, "press1", "OperationalData")
    assert bindings[(operational, "temperature")] == "press1.temperature"
    assert set(bindings.values()) == set(example_plant.catalog())


def test_hierarchy_and_material_flow(example_plant: Plant, example_env: TwinEnvironment) -> None:
    tree = example_env.get(submodel_id(example_plant, "line1", "HierarchicalStructures"))
    assert isinstance(tree, model.Submodel) and semantic(tree) == sem.HIERARCHICAL_STRUCTURES
    entry = tree.get_referable("EntryNode")
    assert isinstance(entry, model.Entity)
    children = {e.id_short for e in entry.statement if isinstance(e, model.Entity)}
    assert children == {"forming", "buffer1", "welder1", "conveyor1"}
    flow = example_env.get(submodel_id(example_plant, "press1", "MaterialFlow"))
    assert isinstance(flow, model.Submodel)
    (feeds,) = flow.submodel_element
    assert isinstance(feeds, model.RelationshipElement) and feeds.second is not None
    assert feeds.second.key[0].value == shell_id(example_plant, "buffer1")


def test_plant_file_travels_as_supplementary_file(example_env: TwinEnvironment) -> None:
    (plant_file,) = example_env.files
    assert plant_file.name == "/aasx/files/plant.toml"
    assert plant_file.data is not None and b"[assets.press1]" in plant_file.data
