"""The import graph: no circles, and the two faces (CLI, service) over the library, not each other.

Read with grimp (the import graph import-linter is built on), so the next change cannot quietly
put a circle back or let the service lean on the command line's code.
"""

from __future__ import annotations

import grimp
import pytest

FACES = ("autoblur.cli", "autoblur.service")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("autoblur", "detectors")


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_no_module_imports_one_that_imports_it_back(graph):
    circles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if _within(importer, imported) or _within(imported, importer):
                continue  # a package and its own modules
            if graph.chain_exists(importer=imported, imported=importer):
                circles.append(graph.find_shortest_chain(importer=imported, imported=importer))
    assert circles == []


def test_the_library_imports_neither_face(graph):
    library = [
        m
        for m in graph.modules
        if m not in ("autoblur", "autoblur.__main__") and not m.startswith(FACES)
    ]
    reaching = [
        (module, face)
        for face in FACES
        for module in sorted(library)
        if graph.chain_exists(importer=module, imported=face, as_packages=True)
    ]
    assert reaching == []


def test_the_service_never_imports_the_command_line(graph):
    assert not graph.chain_exists(
        importer="autoblur.service", imported="autoblur.cli", as_packages=True
    )


def test_only_the_serve_command_starts_the_service(graph):
    importers = {
        module
        for module in graph.modules
        if _within(module, "autoblur.cli")
        and any(
            _within(imported, "autoblur.service")
            for imported in graph.find_modules_directly_imported_by(module)
        )
    }
    assert importers == {"autoblur.cli.serve"}


def test_the_pipeline_is_run_from_above_only(graph):
    importers = set(graph.find_modules_that_directly_import("autoblur.pipeline"))
    # The workflows that run it: the command line, a batch, the service's tasks, and the
    # pieces of a long file.
    assert importers <= {
        "autoblur.batch.runner",
        "autoblur.chunks.piece",
        "autoblur.chunks.runner",
        "autoblur.cli.common",
        "autoblur.service.tasks",
    }


def test_detectors_know_nothing_of_the_workflows(graph):
    workflows = (
        "autoblur.pipeline",
        "autoblur.verify",
        "autoblur.review",
        "autoblur.report",
        "autoblur.chunks",
    )
    reaching = [
        (module, workflow)
        for module in sorted(m for m in graph.modules if _within(m, "detectors"))
        for workflow in (*workflows, *FACES, "autoblur.batch")
        if graph.chain_exists(importer=module, imported=workflow, as_packages=True)
    ]
    assert reaching == []
