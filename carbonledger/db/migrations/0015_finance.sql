-- Climate finance (finance/, docs/finance.md): banks' loan books, one row per loan and as-of
-- date, and the balance sheet that PCAF attribution needs on economic_data (written by the
-- registry, like the rest of economic_data).

CREATE TABLE loans (
    bank_id              text NOT NULL REFERENCES banks (id),
    loan_id              text NOT NULL CHECK (loan_id ~ '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$'),
    as_of                date NOT NULL,
    -- no foreign key: a bank also lends to enterprises the platform does not meter
    borrower_credit_code char(18) NOT NULL CHECK (borrower_credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    product              text NOT NULL CHECK (product <> ''),
    green_category       text CHECK (green_category <> ''),
    purpose              text NOT NULL DEFAULT '',
    outstanding_yuan     numeric NOT NULL CHECK (outstanding_yuan >= 0),
    committed_yuan       numeric NOT NULL CHECK (committed_yuan >= 0),
    currency             text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    start_date           date NOT NULL,
    maturity_date        date NOT NULL CHECK (maturity_date >= start_date),
    interest_rate        numeric NOT NULL CHECK (interest_rate >= 0 AND interest_rate <= 100),
    project_id           text,
    source               text NOT NULL DEFAULT 'import',
    uploaded_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bank_id, loan_id, as_of),
    CHECK (start_date <= as_of)
);
CREATE INDEX loans_borrower ON loans (borrower_credit_code, bank_id);
CREATE INDEX loans_as_of ON loans (as_of, bank_id);
COMMENT ON TABLE loans IS
    'Banks'' loan books: each loan as reported at an as-of date (the book at that date); money in 元';
COMMENT ON COLUMN loans.interest_rate IS 'Annual interest rate in percent, e.g. 3.45';
COMMENT ON COLUMN loans.green_category IS
    'Green loan category (e.g. 清洁能源, 节能环保, 碳减排技术); NULL: not a green loan';
COMMENT ON COLUMN loans.project_id IS 'The climate project the loan finances, if any (projects/)';

ALTER TABLE economic_data
    ADD COLUMN total_assets numeric CHECK (total_assets >= 0),
    ADD COLUMN total_equity numeric,
    ADD COLUMN total_debt   numeric CHECK (total_debt >= 0),
    ADD COLUMN evic         numeric CHECK (evic > 0);
COMMENT ON COLUMN economic_data.total_assets IS '资产总额 at the period end, 万元';
COMMENT ON COLUMN economic_data.total_equity IS '所有者权益 at the period end, 万元 (may be negative)';
COMMENT ON COLUMN economic_data.total_debt IS '负债 (borrowings and bonds) at the period end, 万元';
COMMENT ON COLUMN economic_data.evic IS
    'Enterprise value including cash (listed companies) at the period end, 万元';

-- Who holds a loan record of an enterprise: what the enterprise itself may see (no amounts).
CREATE VIEW loan_holders AS
    SELECT borrower_credit_code AS enterprise_code, bank_id, min(as_of) AS first_as_of,
           max(as_of) AS last_as_of, count(DISTINCT loan_id) AS loans
    FROM loans GROUP BY borrower_credit_code, bank_id;
