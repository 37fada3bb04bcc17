-- Marketing campaigns, one row per campaign name (the latest send when a name repeats).
CREATE OR REPLACE TABLE core.campaigns AS
SELECT campaign_name, subject, sent_at, recipients, unique_opens, unique_clicks, promised_delivery_days,
       source_file, source_row, profile
FROM staging.marketing_campaigns
QUALIFY row_number() OVER (PARTITION BY campaign_name ORDER BY sent_at DESC NULLS LAST, source_row DESC) = 1
ORDER BY sent_at;
