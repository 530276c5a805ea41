"""``werk certs``: an application instance certificate and key for OPC UA security."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from werk.cli.output import console, fail
from werk.core import WerkError


def certs(
    out: Annotated[Path, typer.Option("--out", help="folder for the files")] = Path("certs"),
    name: Annotated[str, typer.Option(help="application name (file names, common name)")] = "werk",
    host: Annotated[
        list[str] | None,
        typer.Option(help="host name or IP address for subjectAltName (repeatable)"),
    ] = None,
    uri: Annotated[
        str | None, typer.Option(help="application URI (default urn:<host>:werk:<name>)")
    ] = None,
    days: Annotated[int, typer.Option(help="validity in days")] = 3650,
    force: Annotated[bool, typer.Option(help="replace existing files")] = False,
) -> None:
    """Make a self-signed OPC UA application certificate (Basic256Sha256) and its key."""
    from werk.connect.opcua.certs import make_certificate

    try:
        files = make_certificate(out, name, host, uri, days, overwrite=force)
    except WerkError as error:
        raise fail(str(error)) from None
    console.print(f"certificate  {files.certificate}  (DER; also {files.certificate_pem})")
    console.print(f"private key  {files.private_key}  (keep it secret)")
    console.print(f"application URI  {files.application_uri}")
    console.print("werk.toml, in the connector's [connectors.options]:", markup=False)
    console.print(
        '  security_policy = "Basic256Sha256"\n  security_mode = "SignAndEncrypt"\n'
        f'  certificate = "{files.certificate}"\n  private_key = "{files.private_key}"',
        markup=False,
        highlight=False,
    )
    console.print("and add the certificate to the server's trusted clients.")
