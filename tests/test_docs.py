"""Operations docs: generated blocks current, catalog fully covered, workflows and links consistent."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from signal9 import catalog
from signal9_tools import check, docgen
from signal9_tools.mockrun import ProgramRun
from tests.fixtures import reuse_planned_runs
from tests.spec_matrix import SPEC_ACCESS, SPEC_EVENTS, SPEC_SCHEDULES

DOCS = docgen.ROOT / "docs"
RUNBOOKS = {
    "failed-scheduled-run.md",
    "dlq-not-empty.md",
    "throttling.md",
    "rotating-credentials.md",
    "sunday-maintenance.md",
    "alphavantage-throttling.md",
}
OWNED = [
    DOCS / "architecture.md",
    DOCS / "deploy.md",
    DOCS / "local.md",
    DOCS / "security-review.md",
    DOCS / "cost.md",
    *(DOCS / "runbooks" / name for name in sorted(RUNBOOKS)),
]


def test_generated_blocks_are_current(monkeypatch: pytest.MonkeyPatch) -> None:
    reuse_planned_runs(monkeypatch, check)
    for path, blocks in docgen.generated_blocks().items():
        text = path.read_text()
        for name, content in blocks.items():
            assert docgen.current_block(text, name) == content, f"{path.name}: run `python -m signal9_tools.docgen`"


def node_id(name: str) -> str:
    return re.sub(r"\W", "_", name)


def spec_edges() -> set[str]:
    """Every edge of the architecture diagram, written from SPEC's tables (not the catalog)."""
    edges = {f"sch_{node_id(schedule)} --> fn_{function}" for schedule, function in SPEC_SCHEDULES.items()}
    edges |= {f"bus -- {detail_type} --> fn_{consumer}" for detail_type, consumer in SPEC_EVENTS.items()}
    for function, spec in SPEC_ACCESS.items():
        edges |= {f"fn_{function} -. {detail_type} .-> bus" for detail_type in spec.emits}
        edges |= {f"fn_{function} <--> tbl_{table}" for table in spec.reads & spec.writes}
        edges |= {f"tbl_{table} -.-> fn_{function}" for table in spec.reads - spec.writes}
        edges |= {f"fn_{function} --> tbl_{table}" for table in spec.writes - spec.reads}
        if spec.secret:
            edges.add(f"sec_{spec.secret} -.-> fn_{function}")
    edges.add("lambda -. failed async invocations, schedule and rule deliveries .-> dlq")
    edges.add("lambda -. JSON logs, metrics .-> obs")
    return edges


def test_architecture_diagram_draws_exactly_the_specs_edges_between_declared_nodes() -> None:
    text = (DOCS / "architecture.md").read_text()
    diagram = docgen.current_block(text, "diagram").splitlines()
    assert diagram[:2] == ["```mermaid", "flowchart LR"] and diagram[-1] == "```"
    edges = {line.strip() for line in diagram if re.search(r"-->|-\.->|\.->|<-->", line)}
    assert edges == spec_edges()
    declared = {m[1]: m[2] for line in diagram if (m := re.match(r'\s+(\w+)[\[({/]+"?([^"\]]+)', line))}
    used = {word for edge in edges for word in re.findall(r"\b(?:sch|fn|tbl|sec)_\w+", edge)}
    assert used <= set(declared), used - set(declared)
    for function in SPEC_ACCESS:
        assert declared[f"fn_{function}"] == function
    for schedule in SPEC_SCHEDULES:
        assert declared[f"sch_{node_id(schedule)}"].startswith(f"{schedule}<br/>cron(")
    for table in {t for spec in SPEC_ACCESS.values() for t in spec.reads | spec.writes}:
        assert declared[f"tbl_{table}"] == table


def test_architecture_names_every_resource_kind() -> None:
    text = (DOCS / "architecture.md").read_text()
    names = [*catalog.FUNCTION_NAMES, *catalog.TABLE_NAMES, *catalog.SCHEDULE_NAMES, *catalog.SECRET_NAMES]
    names += [event.detail_type for event in catalog.EVENTS]
    for name in names:
        assert name in text, name


def table_names(cell: str) -> set[str]:
    return set(re.findall(r"`signal9-<stack>-(\w+)`", cell))


def test_iam_matrix_states_exactly_the_specs_grants() -> None:
    rows = docgen.current_block((DOCS / "security-review.md").read_text(), "iam-matrix").splitlines()[2:]
    cells = {row.strip("| ").split(" | ")[0]: row.strip("| ").split(" | ") for row in rows}
    assert list(cells) == list(SPEC_ACCESS)
    for function, spec in SPEC_ACCESS.items():
        row = cells[function]
        assert table_names(row[1]) == spec.reads, function
        assert table_names(row[2]) == spec.writes, function
        assert row[3] == (f"`signal9/<stack>/{spec.secret}`" if spec.secret else "-"), function
        emits = f"`signal9-<stack>` ({', '.join(sorted(spec.emits))})" if spec.emits else "-"
        assert row[4] == emits, function
        assert row[5] == f"`signal9-<stack>-{function}-dlq`"
        assert row[6] == f"`/aws/lambda/signal9-<stack>-{function}`"


def test_runbooks_exist_and_name_their_signals() -> None:
    assert {p.name for p in (DOCS / "runbooks").glob("*.md")} >= RUNBOOKS
    text = {name: (DOCS / "runbooks" / name).read_text() for name in RUNBOOKS}
    assert "signal9 dlq replay" in text["dlq-not-empty.md"] and "-dlq-depth" in text["dlq-not-empty.md"]
    assert "-errors" in text["failed-scheduled-run.md"]
    assert "-throttles" in text["throttling.md"]
    assert "pulumi config set --secret" in text["rotating-credentials.md"]
    assert catalog.DEFAULT_TIMEZONE in text["sunday-maintenance.md"]
    for alarm in ("-alphavantage-throttling", "-PollenateAsset-event-age", "signal9:alphaVantage.requestsPerMinute"):
        assert alarm in text["alphavantage-throttling.md"], alarm
    for name in catalog.scheduled_functions():
        assert name.name in text["failed-scheduled-run.md"]


def test_deploy_doc_matches_the_workflows() -> None:
    deploy = (DOCS / "deploy.md").read_text()
    workflows = sorted((docgen.ROOT / ".github" / "workflows").glob("*.yml"))
    variables = {v for path in workflows for v in re.findall(r"vars\.([A-Z_]+)", path.read_text())}
    assert variables == {"PULUMI_BACKEND_URL", "AWS_PREVIEW_ROLE_ARN", "AWS_DEPLOY_ROLE_ARN"}
    for name in [*variables, *(p.name for p in workflows), "awskms://", "pulumi login s3://", "passphrase"]:
        assert name in deploy, name


@pytest.mark.parametrize("path", OWNED, ids=lambda p: str(p.relative_to(DOCS)))
def test_relative_links_resolve(path: Path) -> None:
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
        assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


def test_deploy_doc_states_each_stacks_modelled_first_deploy(plans: dict[str, ProgramRun]) -> None:
    """docs/deploy.md's figures are the ones `signal9 plan --timing` prints (it once said 66 s for every stack)."""
    from signal9_tools import deploytime

    figures = ", ".join(
        f"{stack} {deploytime.model(plans[stack]).first_deploy_seconds:.0f} s" for stack in catalog.STACKS
    )
    text = " ".join((DOCS / "deploy.md").read_text().split())
    assert f"first deploy about {figures}" in text, figures


def markdown_table(text: str, heading: str) -> dict[str, list[str]]:
    """The first table under ``heading``: first cell (backticks off) -> the other cells."""
    section = text[text.index(f"\n{heading}\n") :]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    first = section.splitlines().index(rows[0])
    table = []
    for line in section.splitlines()[first:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return {cells[0].strip("`"): cells[1:] for cells in table[2:]}


def test_deploy_doc_lists_every_stack_output_with_what_it_is_for(plans: dict[str, ProgramRun]) -> None:
    """docs/deploy.md, "Stack outputs": exactly the outputs the program exports, each with its use."""
    outputs = markdown_table((DOCS / "deploy.md").read_text(), "## Stack outputs")
    for stack, plan in plans.items():
        assert set(outputs) == set(plan.outputs), stack
    for name, (shape, purpose) in outputs.items():
        assert shape and len(purpose.split()) >= 4, name
        value = plans["dev"].outputs[name]
        assert ("map" in shape) == isinstance(value, dict), (name, shape)


SECTION_REFERENCE = re.compile(r"([\w.-]+\.md)(?:\]\([^)\s]*\))?,?\s+['\"]([A-Z][^'\"\n]{2,60})['\"]")


def section_references() -> list[tuple[str, str, str]]:
    """(where, file, section) for each "file.md, 'Section'" in the docs, the README and the tools' messages."""
    sources = [docgen.ROOT / "README.md", *DOCS.rglob("*.md"), *(docgen.ROOT / "signal9_tools").rglob("*.py")]
    sources += list((docgen.ROOT / "signal9").glob("*.py"))
    found = []
    for source in sources:
        text = " ".join(source.read_text().split())
        found += [(source.name, m[1], m[2]) for m in SECTION_REFERENCE.finditer(text)]
    return found


def test_cited_doc_sections_exist() -> None:
    """Messages and runbooks that send an operator to "deploy.md, 'Section'" name a section that is there."""
    references = section_references()
    assert any(name == "operator_messages.py" for name, _, _ in references)  # the pattern still finds them
    headings = {
        path.name: [
            re.sub(r"^#+\s*(\d+\.\s*)?", "", line) for line in path.read_text().splitlines() if line.startswith("#")
        ]
        for path in [*DOCS.rglob("*.md"), docgen.ROOT / "README.md"]
    }
    missing = [
        (where, file, section)
        for where, file, section in references
        if file in headings and not any(h.startswith(section) for h in headings[file])
    ]
    assert not missing, missing


# --- every command the docs show, run ----------------------------------------------------------

# Commands shown in the docs that cannot run here, by prefix, and why.
# (`signal9 dlq` runs against moto holding the stack's queues.)
NOT_RUN_OFFLINE = {
    "signal9 local up --alpaca-url": "calls the real Alpaca and AlphaVantage APIs: needs the network and keys",
    "signal9 status": "reads what a deployed stack ran: tests/test_status.py runs it against the emulator",
    "signal9 verify": "reads a deployed stack: tests/test_verify.py runs it against the emulator",
    "signal9 preflight --stack prod --account": "reads the AWS account: tests/test_account_check.py and "
    "tests/test_access_analyzer.py run it against stand-ins",
}
# Placeholders the docs use, and the value a test run gives them.
PLACEHOLDERS = {"<stack>": "dev", "<name>": "dev", "<Function>": "SyncAssets"}
FENCE = re.compile(r"^```(bash|sh)\n(.*?)^```", re.S | re.M)


def documented_commands() -> list[tuple[str, str]]:
    """(doc, command) for each `signal9 ...` or `make plan ...` line in a ```bash or ```sh block."""
    found = []
    for path in [docgen.ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for block in FENCE.finditer(path.read_text()):
            script = block[2].replace("\\\n", " ")
            for line in script.splitlines():
                command = re.sub(r"\s+#.*$", "", line).strip()
                command = re.sub(r"^(\.\./)?\.venv/bin/", "", command)
                for placeholder, value in PLACEHOLDERS.items():
                    command = command.replace(placeholder, value)
                if command.startswith(("signal9 ", "make plan")):
                    found.append((str(path.relative_to(docgen.ROOT)), " ".join(command.split())))
    return found


def test_the_docs_show_commands_to_run() -> None:
    commands = [command for _, command in documented_commands()]
    assert "make plan STACK=prod" in commands and "signal9 check --stack prod" in commands


@pytest.mark.parametrize(("doc", "command"), documented_commands(), ids=lambda value: value)
def test_documented_command_runs(
    doc: str, command: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Every command a doc shows runs as shown (exit 0), offline; the ones that cannot are listed with why."""
    skipped = next((reason for prefix, reason in NOT_RUN_OFFLINE.items() if command.startswith(prefix)), None)
    if skipped:
        pytest.skip(f"{command}: {skipped}")
    if command.startswith("make "):
        # What make would run, once its install prerequisite is up to date (make -n prints the recipe).
        # Under `make test` this make is a sub-make, which would also print "Entering directory" lines.
        recipe = subprocess.run(
            ["make", "--no-print-directory", "-n", *command.split()[1:]],
            cwd=docgen.ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        command = re.sub(r"^\.venv/bin/", "", recipe[-1])
        assert command.startswith("signal9 "), recipe
    from signal9_tools import check, cli, cost, plan, preflight

    reuse_planned_runs(monkeypatch, check, cost, plan, preflight)  # the stack files' runs, made once
    if command.startswith("signal9 dlq"):
        import boto3

        from signal9.naming import Naming

        request.getfixturevalue("aws")  # moto, with the stack's (empty) dead-letter queues
        stack = shlex.split(command)[shlex.split(command).index("--stack") + 1]
        for function in catalog.FUNCTION_NAMES:
            boto3.client("sqs").create_queue(QueueName=Naming(stack).dead_letter_queue(function))
    monkeypatch.chdir(docgen.ROOT / ("bootstrap" if "--project bootstrap" in command else ""))
    assert cli.main(shlex.split(command)[1:]) == 0, f"{doc}: `{command}` failed"


def fenced_after(text: str, start: str) -> list[str]:
    """The lines of the unlabelled ``` block whose first line begins with ``start``."""
    begin = text.index(f"```\n{start}")
    return text[begin : text.index("```\n", begin + 4)].splitlines()[1:]


def local_doc_report() -> list[str]:
    return fenced_after((DOCS / "local.md").read_text(), "signal9 local: stack 'dev'")


def test_local_doc_report_is_uncut() -> None:
    """docs/local.md's `local up` report is pasted whole: every check of the run, its tally, the status that follows."""
    report = local_doc_report()
    checks = [line for line in report if re.match(r"^\S.*\s(PASS|FAIL)\s", line)]
    tally = next(m for line in report if (m := re.fullmatch(r"(\d+) passed, (\d+) failed", line)))
    assert len(checks) == int(tally[1]) + int(tally[2]), "a check line is missing"
    assert not [line for line in report if line.endswith("...")]
    assert any(line.startswith("deploy calls allowed by the deploy policy") for line in checks)
    assert any(line.startswith("signal9 status: stack 'dev'") for line in report)
    assert report[-1].startswith("verdict: ")


def test_readme_report_is_a_labelled_excerpt_of_the_full_one() -> None:
    """The README's sample says it is an excerpt, is short, and each run of its lines is a run of the full report."""
    readme = (docgen.ROOT / "README.md").read_text()
    excerpt = fenced_after(readme, "signal9 local: stack 'dev'")
    intro = readme[: readme.index("```\nsignal9 local: stack 'dev'")].rstrip().rsplit("\n\n", 1)[-1]
    assert "excerpt" in intro and "[...]" in intro and "docs/local.md" in intro
    assert len(excerpt) <= 15
    full = "\n".join(local_doc_report())
    runs = "\n".join(excerpt).split("\n[...]\n")
    assert len(runs) > 1
    for run in runs:
        assert f"\n{run}\n" in f"\n{full}\n", run


def test_readme_maps_every_doc() -> None:
    """The README's documentation table names every file in docs/ and docs/runbooks/, once each."""
    readme = (docgen.ROOT / "README.md").read_text()
    mapped = re.findall(r"^\| \[[^]]+\]\(docs/([^)]+)\) \| \S", readme, re.M)
    docs = [str(path.relative_to(DOCS)) for path in [*DOCS.glob("*.md"), *(DOCS / "runbooks").glob("*.md")]]
    assert len(mapped) == len(set(mapped)) and set(docs) <= set(mapped), set(docs) - set(mapped)


def test_docs_and_messages_cite_the_contract_in_the_repository() -> None:
    """SPEC.md is not in the repository: the README, the docs and the config errors cite docs/contract.md."""
    owned = [docgen.ROOT / "README.md", *DOCS.rglob("*.md")]
    assert not [p.name for p in owned if "SPEC" in p.read_text()]
    assert "SPEC" not in (docgen.ROOT / "signal9" / "config.py").read_text()
    code = [
        p
        for layer in ("signal9", "signal9_tools", "functions", "components")
        for p in (docgen.ROOT / layer).rglob("*.py")
    ]
    assert not [str(p) for p in code if re.search(r"\bSPEC\b|SPEC\.md", p.read_text())]
    assert "docs/contract.md" in (docgen.ROOT / "signal9" / "config.py").read_text()


def test_keep_hints_need_only_what_the_set_up_installs() -> None:
    """`local up --keep` prints commands a newcomer can paste after `make`: no AWS CLI, no `signal9` on PATH."""
    from signal9_tools.emulator.cli import KEEP_HINTS

    hints = KEEP_HINTS.format(endpoint="http://127.0.0.1:5000", region="us-east-1", stack="dev")
    commands = [shlex.split(line)[0] for line in hints.splitlines() if line.startswith("  ")]
    assert commands[0] == "export" and len(commands) > 3, commands
    for program in commands[1:]:
        assert program.startswith(".venv/bin/") and (docgen.ROOT / program).exists(), program


# --- statements of fact in the docs, each kind held to what the code does ---------------------


def test_sizes_the_docs_state_are_the_programs(dev: ProgramRun) -> None:
    """observability.md: the dashboard body's size (it said 32 KB when it was 41)."""
    text = " ".join((DOCS / "observability.md").read_text().split())
    stated = int(re.search(r"dashboard body is about (\d+) KB", text)[1])  # type: ignore[index]
    assert stated == round(len(dev.named("dashboard").inputs["dashboardBody"].encode()) / 1000)


def test_the_plan_document_is_described_as_it_is(dev: ProgramRun) -> None:
    """deploy.md: the keys of `signal9 plan --json` and of each resource (it promised `outputs` per resource)."""
    text = " ".join((DOCS / "deploy.md").read_text().split())
    sentence = text[text.index("with `--json`, one document with") :].split(". ")[0]
    document = dev.to_json()
    before, rest = sentence.split("(sorted by type and name, each with")
    per_resource, after = rest.split(")", 1)
    assert set(re.findall(r"`(\w+)`", before + after)) == set(document)
    assert set(re.findall(r"`(\w+)`", per_resource)) == set(document["resources"][0])
    assert "the resources carry none" in sentence and "outputs" not in document["resources"][0]


def test_the_secret_documents_hold_the_catalogs_fields() -> None:
    """secrets.md's table and configuration.md's row name every field (they left out baseUrl and dataUrl)."""
    secrets = (DOCS / "secrets.md").read_text()
    for secret in catalog.SECRETS:
        row = next(line for line in secrets.splitlines() if line.startswith(f"| `signal9/<stack>/{secret.name}` |"))
        assert set(json.loads(row.split(" | ")[1].strip("`"))) == set(secret.fields), secret.name
    rows = (DOCS / "configuration.md").read_text().splitlines()
    row = next(line for line in rows if line.startswith("| `signal9:secrets` |"))
    shape = row.split(" | ")[1].strip("`")
    for secret in catalog.SECRETS:
        assert f"{secret.name}: {{{', '.join(secret.fields)}}}" in shape, secret.name


def test_the_placeholder_warning_shown_is_the_one_the_deploy_prints(dev: ProgramRun) -> None:
    """secrets.md shows a deploy warning: its text must be the program's (it named baseUrl, which has a default)."""
    text = (DOCS / "secrets.md").read_text()
    shown = fenced_after(text, "warning: secret signal9/dev/alpaca")
    printed = next(w for w in dev.warnings if w.startswith("secret signal9/dev/alpaca"))
    assert " ".join(shown) == f"warning: {printed}"


def test_the_state_bucket_the_docs_name_is_the_one_the_bootstrap_creates() -> None:
    """README and deploy.md log in to the bucket bootstrap/ makes (the README named another)."""
    from signal9 import bootstrap_policies

    expected = bootstrap_policies.state_backend_url("<account>").removesuffix("/pulumi")
    found = [
        url
        for path in [docgen.ROOT / "README.md", *DOCS.glob("*.md")]
        for url in re.findall(r"s3://[^/\s`]+", path.read_text())
    ]
    assert found and set(found) == {expected}, found


def test_every_deploy_the_docs_show_runs_the_policy_pack() -> None:
    """`pulumi preview`/`pulumi up` of a Signal9 stack run with `--policy-pack policy`, as CI does
    (the README's did not). The bootstrap's own stack (`-s main`) has no pack."""
    lines = [
        line.strip()
        for path in [docgen.ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
        for block in FENCE.finditer(path.read_text())
        for line in block[2].splitlines()
        if re.match(r"\s*pulumi (up|preview)\b", line) and "-s main" not in line
    ]
    assert lines and all("--policy-pack policy" in line for line in lines), lines


def test_the_help_says_which_commands_use_aws() -> None:
    """`signal9 --help` said only `dlq` uses AWS; `status` and `verify` do too: the sentence comes from the summaries."""
    from signal9_tools import cli

    uses_aws = {command for command, summary in cli.SUMMARIES.items() if "(uses AWS)" in summary}
    assert uses_aws == {"dlq", "status", "verify"}
    description = cli.build_parser([]).description or ""
    assert set(re.findall(r"`(\w+)`", description)) == uses_aws
    # The runbook said `signal9 dlq` was "the one subcommand that talks to AWS".
    for path in [docgen.ROOT / "README.md", *DOCS.rglob("*.md")]:
        for command in re.findall(
            r"`signal9 (\w+)` is the (?:one|only) (?:sub)?command that talks to AWS", path.read_text()
        ):
            assert uses_aws == {command}, path.name


def test_the_local_report_sample_is_of_todays_program(dev: ProgramRun) -> None:
    """local.md's sample report: the resource count does not vary between runs, so it must be today's."""
    first = local_doc_report()[0]
    assert first == f"signal9 local: stack 'dev', {len(dev.resources)} resources deployed into moto"
    intro = (DOCS / "local.md").read_text().split("```\nsignal9 local: stack 'dev'")[0].rstrip().rsplit("\n\n", 1)[-1]
    assert "differ per run" in intro and "resource" in intro


def test_the_batch_bound_the_configuration_doc_gives_is_the_default_plans() -> None:
    """configuration.md gave regularPollenationBatchSize as 1-1000 when the default plan allows 780."""
    from signal9.config import AlphaVantagePlan

    row = next(
        line
        for line in (DOCS / "configuration.md").read_text().splitlines()
        if line.startswith("| `signal9:regularPollenationBatchSize` |")
    )
    assert f": {AlphaVantagePlan().largest_burst} at the default plan" in row
