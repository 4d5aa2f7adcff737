-- Climate projects (projects/, docs/projects.md, issue 17): the climate investment-and-financing
-- project library (气候投融资项目库), the meters that measure each project's reductions, the
-- driver values of its baseline model, and the log of every stage transition.
-- Written by projects/ only; loans (finance's `loans`) link to a project by loans.project_id.

CREATE TABLE projects (
    id                   text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    owner_code           char(18) NOT NULL REFERENCES enterprises (code),
    title                text NOT NULL CHECK (title <> ''),
    purpose              text NOT NULL CHECK (purpose IN ('mitigation', 'adaptation')),
    area                 text NOT NULL CHECK (area <> ''),
    subcategory          text NOT NULL CHECK (subcategory <> ''),
    location             text NOT NULL CHECK (location <> ''),
    total_investment_yuan numeric NOT NULL CHECK (total_investment_yuan > 0),
    start_of_operation   date NOT NULL,
    expected_annual_tco2 numeric NOT NULL CHECK (expected_annual_tco2 >= 0),
    method               text NOT NULL
        CHECK (method IN ('generation', 'ipmvp_b', 'ipmvp_c', 'fuel_switch')),
    method_params        jsonb NOT NULL DEFAULT '{}',
    stage                text NOT NULL DEFAULT 'declared'
        CHECK (stage IN ('declared', 'screened', 'admitted', 'retired')),
    declared_at          timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX projects_owner ON projects (owner_code);
COMMENT ON TABLE projects IS
    'The project library: declared -> screened -> admitted (in the library) -> retired';
COMMENT ON COLUMN projects.area IS
    'Taxonomy area (projects/taxonomy.toml): clean_energy, energy_saving, carbon_reduction_tech, adaptation';

CREATE TABLE project_meters (
    project_id text NOT NULL REFERENCES projects (id),
    meter_id   text NOT NULL REFERENCES meters (id),
    role       text NOT NULL
        CHECK (role IN ('generation', 'own_use', 'measured', 'affected')),
    PRIMARY KEY (project_id, meter_id)
);
CREATE INDEX project_meters_meter ON project_meters (meter_id);
COMMENT ON TABLE project_meters IS
    'The meters that measure a project: generation/own_use (generation), measured (IPMVP B/C), affected (fuel switch)';

CREATE TABLE project_drivers (
    project_id text NOT NULL REFERENCES projects (id),
    month      date NOT NULL CHECK (month = date_trunc('month', month)::date),
    value      numeric NOT NULL,
    source     text NOT NULL CHECK (source <> ''),
    PRIMARY KEY (project_id, month)
);
COMMENT ON TABLE project_drivers IS
    'Independent variable of an IPMVP baseline per local month (production output, degree-days)';

CREATE TABLE project_transitions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  text NOT NULL REFERENCES projects (id),
    action      text NOT NULL CHECK (action IN ('declare', 'screen', 'admit', 'retire')),
    from_stage  text,
    to_stage    text NOT NULL,
    passed      boolean NOT NULL,
    criteria    jsonb,
    by_role     text NOT NULL CHECK (by_role IN ('enterprise', 'bureau', 'admin')),
    by_name     text NOT NULL CHECK (by_name <> ''),
    at          timestamptz NOT NULL,
    note        text
);
CREATE INDEX project_transitions_project ON project_transitions (project_id, id);
COMMENT ON TABLE project_transitions IS
    'Every stage action on a project, who did it in which role, and the screening criteria results';

-- What the cockpit shows: each library project's measured reduction per local month, as last
-- computed by `carbonledger projects refresh` (the demo runs it every minute). A cache of
-- projects.reductions(), never an input: the API and the disclosure compute afresh.
CREATE TABLE project_reductions (
    project_id     text NOT NULL REFERENCES projects (id),
    month          date NOT NULL CHECK (month = date_trunc('month', month)::date),
    reduction_tco2 numeric,
    expected_tco2  numeric NOT NULL,
    coverage       numeric NOT NULL,
    live           boolean NOT NULL,
    flags          text[] NOT NULL DEFAULT '{}',
    computed_at    timestamptz NOT NULL,
    PRIMARY KEY (project_id, month)
);
COMMENT ON COLUMN project_reductions.reduction_tco2 IS
    'NULL: not computable (baseline refused, driver missing); see flags';
