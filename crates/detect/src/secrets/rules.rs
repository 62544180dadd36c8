//! Provider key formats: one row per credential type, with the capture group that is the
//! secret. Patterns follow the providers' documented token formats (prefixes, lengths,
//! alphabets); formats without a distinctive prefix require a provider name nearby.

/// One provider key format.
pub(crate) struct Rule {
    /// Finding label.
    pub label: &'static str,
    /// Pattern; group 1, when present, is the secret itself.
    pub pattern: &'static str,
}

const fn r(label: &'static str, pattern: &'static str) -> Rule {
    Rule { label, pattern }
}

/// Within this many characters of a provider's name.
macro_rules! near {
    ($name:literal, $value:literal) => {
        concat!("(?i:", $name, r#")(?:[\w.-]{0,24})(?:\s{0,20}[:=>]{1,3}\s{0,20}|\s{1,3}|["']\s{0,20}[:=,]\s{0,20})["'`]?"#, $value)
    };
}

pub(crate) static RULES: &[Rule] = &[
    // Cloud
    r(
        "aws_access_key_id",
        r"\b((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA|A3T[A-Z0-9])[A-Z0-9]{16})\b",
    ),
    r(
        "aws_account_id",
        r#"(?i:aws_?account_?id|awsaccountid|account_?id)["']?\s{0,3}[:=]\s{0,3}["']?(\d{12})\b"#,
    ),
    r(
        "aws_arn",
        r#"\b(arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:[^\s'"`,]+)"#,
    ),
    r(
        "s3_bucket",
        r"\b([a-z0-9][a-z0-9.-]{2,62}\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com)",
    ),
    r(
        "s3_bucket",
        r"\b(s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com/[a-z0-9][a-z0-9._-]{2,62})",
    ),
    r(
        "gcs_bucket",
        r"\b([a-z0-9][a-z0-9._-]{0,221}\.storage\.googleapis\.com)",
    ),
    r(
        "gcs_bucket",
        r"\b(storage\.googleapis\.com/[a-z0-9][a-z0-9._-]{2,62})",
    ),
    r(
        "aws_secret_access_key",
        near!("aws|secret_?access", r"([A-Za-z0-9/+]{40})\b"),
    ),
    r(
        "aws_session_token",
        near!(
            "aws_?session_?token|x-amz-security-token",
            r"([A-Za-z0-9/+=]{100,})"
        ),
    ),
    r(
        "aws_arn_secret",
        r"\b(arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+)",
    ),
    r(
        "azure_storage_key",
        r"(?i:AccountKey)\s*=\s*([A-Za-z0-9+/=]{40,100})",
    ),
    r(
        "azure_storage_account",
        r"(?i:DefaultEndpointsProtocol=https?;\s*AccountName)=([^;\s]+)",
    ),
    r(
        "azure_devops_pat",
        r"\b([A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4})\b",
    ),
    r(
        "azure_sas_token",
        r"[?&]sig=([A-Za-z0-9%+/]{43,}(?:%3D|=)?)",
    ),
    r(
        "azure_client_secret",
        r"\b([A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})(?:[^A-Za-z0-9_~.-]|$)",
    ),
    r(
        "azure_connection_secret",
        r"(?i:SharedAccessKey|AccessKey|Password)\s*=\s*([A-Za-z0-9+/]{40,}=?)",
    ),
    r(
        "azure_devops_pat",
        near!("azure|ado|devops|vsts", r"([a-z2-7]{52})\b"),
    ),
    r("google_api_key", r"\b(AIza[0-9A-Za-z_-]{35})"),
    r("google_oauth_secret", r"\b(GOCSPX-[A-Za-z0-9_-]{28})"),
    r(
        "google_client_id",
        r"\b(\d{12}-[a-z0-9]{32})\.apps\.googleusercontent\.com",
    ),
    r("google_oauth_token", r"\b(ya29\.[0-9A-Za-z_-]{20,})"),
    r("google_refresh_token", r"\b(1//0[0-9A-Za-z_-]{40,})"),
    r(
        "google_client_secret",
        near!("client_?secret", r"([A-Za-z0-9_-]{24})\b"),
    ),
    r(
        "gcp_service_account_key",
        r#""private_key"\s*:\s*"(-----BEGIN[^"]{40,})""#,
    ),
    r("digitalocean_token", r"\b(do[opr]_v1_[a-f0-9]{64})\b"),
    r("heroku_api_key", r"\b(HRKU-[A-Za-z0-9_-]{60,})"),
    r(
        "heroku_api_key",
        near!(
            "heroku",
            r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b"
        ),
    ),
    r("alibaba_access_key", r"\b(LTAI[A-Za-z0-9]{12,20})\b"),
    r(
        "ibm_cloud_key",
        near!("ibm|cloudant|apikey", r"([A-Za-z0-9_-]{44})\b"),
    ),
    r("databricks_token", r"\b(dapi[a-f0-9]{32}(?:-\d)?)\b"),
    r(
        "doppler_token",
        r"\b(dp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,44})\b",
    ),
    r("hashicorp_vault_token", r"\b(hv[sbr]\.[A-Za-z0-9_-]{24,})"),
    r(
        "terraform_cloud_token",
        r"\b([A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70})",
    ),
    r("pulumi_token", r"\b(pul-[a-f0-9]{40})\b"),
    r(
        "fly_token",
        r"\b(fo1_[A-Za-z0-9_-]{43}|FlyV1 fm\d_[A-Za-z0-9+/=_,-]{50,})",
    ),
    r("vercel_token", near!("vercel", r"([A-Za-z0-9]{24})\b")),
    r(
        "netlify_token",
        near!("netlify", r"([A-Za-z0-9_-]{40,46})\b"),
    ),
    r(
        "cloudflare_api_token",
        near!("cloudflare|cf_api", r"([A-Za-z0-9_-]{40})\b"),
    ),
    r(
        "kubernetes_secret",
        r"(?i:client-key-data|client-certificate-data)\s*:\s*([A-Za-z0-9+/=_.-]{40,})",
    ),
    // Source control and package registries
    r(
        "github_token",
        r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})",
    ),
    r("github_token", r"\b(github_pat_[A-Za-z0-9_]{70,})"),
    r("github_token", r"\b(v1\.[a-f0-9]{40})\b"),
    r(
        "github_token",
        near!("github|gh_?token", r"([a-f0-9]{40})\b"),
    ),
    r(
        "gitlab_token",
        r"\b((?:glpat|gldt|glrt|glptt|glsoat|glcbt|glimt|glagent|glffct|glft|gloas)-[A-Za-z0-9_-]{20,})",
    ),
    r("gitlab_token", r"\b(GR1348941[A-Za-z0-9_-]{20,})"),
    r("bitbucket_token", r"\b(ATBB[A-Za-z0-9_=.-]{28,})"),
    r(
        "bitbucket_secret",
        near!("bitbucket", r"([A-Za-z0-9_-]{32,64})\b"),
    ),
    r("atlassian_token", r"\b(ATATT3[A-Za-z0-9_=-]{150,})"),
    r("atlassian_token", r"\b(ATCTT3[A-Za-z0-9_=-]{150,})"),
    r(
        "atlassian_token",
        near!("atlassian|jira|confluence", r"([A-Za-z0-9]{24})\b"),
    ),
    r("npm_token", r"\b(npm_[A-Za-z0-9]{36})\b"),
    r("npm_token", r"_authToken\s*=\s*([A-Za-z0-9_/+=-]{20,})"),
    r("pypi_token", r"\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})"),
    r(
        "pypi_token",
        r"\b(pypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9_-]{50,})",
    ),
    r("rubygems_token", r"\b(rubygems_[a-f0-9]{48})\b"),
    r("cratesio_token", r"\b(cio[A-Za-z0-9]{32})\b"),
    r("nuget_key", r"\b(oy2[a-z0-9]{43})\b"),
    r(
        "dockerhub_token",
        r"\b(dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,})",
    ),
    r("artifactory_token", r"\b(AKC[a-zA-Z0-9]{10,})\b"),
    r("artifactory_token", r"\b(cmVmdGtuOjAxOj[A-Za-z0-9]{40,})"),
    r("sonarqube_token", r"\b((?:squ|sqp|sqa)_[a-f0-9]{40})\b"),
    r("sonarqube_token", near!("sonar", r"([a-f0-9]{40})\b")),
    r(
        "codeclimate_token",
        near!("codeclimate|cc_test_reporter", r"([a-f0-9]{64})\b"),
    ),
    r(
        "sourcegraph_token",
        r"\b(sgp_(?:[a-fA-F0-9]{16}|local)_[a-fA-F0-9]{40}|sgp_[a-fA-F0-9]{40}|sgs_[a-fA-F0-9]{64})\b",
    ),
    r(
        "gradle_credential",
        r"(?i:gradle\.publish\.(?:key|secret)|org\.gradle\.project\.\w*(?:password|key|token))\s*[=:]\s*([^\s'\x22]{8,})",
    ),
    r("jenkins_token", near!("jenkins", r"([a-f0-9]{32,34})\b")),
    r(
        "teamcity_token",
        r"\b(eyJ0eXAiOiAiVENWMiJ9\.[A-Za-z0-9_-]{36}\.[A-Za-z0-9_-]{48})",
    ),
    r(
        "stackhawk_key",
        r"\b(hawk\.[A-Za-z0-9_-]{20}\.[A-Za-z0-9_-]{20})\b",
    ),
    r("dependency_track_key", r"\b(odt_[A-Za-z0-9]{32,})\b"),
    r("postman_key", r"\b(PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b"),
    r("figma_token", r"\b(figd_[A-Za-z0-9_-]{40})"),
    r("linear_key", r"\b(lin_api_[A-Za-z0-9]{40})\b"),
    // Chat, mail, messaging
    r("slack_token", r"\b(xox[abposre]-[0-9A-Za-z-]{10,})"),
    r("slack_token", r"\b(xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+)"),
    r(
        "slack_webhook",
        r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,})",
    ),
    r(
        "discord_webhook",
        r"(https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{60,})",
    ),
    r(
        "discord_token",
        near!(
            "discord",
            r"([A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38})"
        ),
    ),
    r(
        "msteams_webhook",
        r"(https://outlook\.office(?:365)?\.com/webhook/[A-Za-z0-9@-]{20,}/IncomingWebhook/[a-f0-9]{32}/[a-f0-9-]{36})",
    ),
    r(
        "msteams_webhook",
        r"(https://[a-z0-9-]+\.webhook\.office\.com/webhookb2/[A-Za-z0-9@/-]{40,}/IncomingWebhook/[a-f0-9]{32}/[a-f0-9-]{36}[A-Za-z0-9/_-]*)",
    ),
    r(
        "msteams_webhook",
        r"(https://[a-z0-9-]+\.(?:logic\.azure|environment\.api\.powerplatform)\.com[:/][^\s'\x22]*sig=[A-Za-z0-9_%-]{20,})",
    ),
    r("telegram_bot_token", r"\b(\d{8,10}:AA[A-Za-z0-9_-]{30,35})"),
    r("twitch_stream_key", r"\b(live_\d{6,10}_[A-Za-z0-9]{30})\b"),
    r("blynk_token", r"\b(oa2-client-id_[A-Za-z0-9_-]{32})"),
    r("twilio_key", r"\b(SK[0-9a-fA-F]{32})\b"),
    r(
        "twilio_key",
        near!("twilio|auth_?token", r"([0-9a-f]{32})\b"),
    ),
    r(
        "sendgrid_key",
        r"\b(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})",
    ),
    r("mailgun_key", r"\b(key-[0-9a-f]{32})\b"),
    r("mailgun_key", r"\b([a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8})\b"),
    r("mailchimp_key", r"\b([0-9a-f]{32}-us\d{1,2})\b"),
    r(
        "postmark_token",
        near!(
            "postmark|x-postmark-server-token",
            r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b"
        ),
    ),
    r("mailjet_key", near!("mailjet", r"([a-f0-9]{32})\b")),
    r(
        "phpmailer_password",
        r"(?i:\$mail->Password)\s*=\s*['\x22]([^'\x22]{4,})['\x22]",
    ),
    r(
        "twitter_token",
        r"\b(AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{50,})",
    ),
    r(
        "twitter_token",
        near!(
            "twitter|consumer_?secret|access_?token_?secret",
            r"([A-Za-z0-9]{18,50})\b"
        ),
    ),
    r("facebook_token", r"\b(EAA[A-Za-z0-9]{60,})"),
    r(
        "facebook_secret",
        near!(
            "facebook|fb_?(?:app_?)?(?:secret|key|token)|fbapikey|fb_?api_?key",
            r"([a-f0-9]{32})\b"
        ),
    ),
    r("linkedin_secret", near!("linkedin", r"([A-Za-z0-9]{16})\b")),
    r("twitch_token", near!("twitch", r"([a-z0-9]{30})\b")),
    r("zoom_token", near!("zoom", r"([A-Za-z0-9_-]{22,})\b")),
    // Payments and commerce
    r(
        "stripe_key",
        r"\b((?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{20,247})",
    ),
    r("stripe_webhook_secret", r"\b(whsec_[A-Za-z0-9]{32,})"),
    r(
        "square_token",
        r"\b(sq0(?:atp|csp|idp)-[A-Za-z0-9_-]{22,43})",
    ),
    r("square_token", r"\b(EAAA[A-Za-z0-9_-]{60})"),
    r("shopify_token", r"\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b"),
    r(
        "shopify_domain",
        r"\b([a-z0-9][a-z0-9.-]*\.myshopify\.com)\b",
    ),
    r(
        "paypal_braintree_token",
        r"\b(access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32})",
    ),
    r("adyen_key", r"\b(AQE[A-Za-z0-9+/=_-]{80,})"),
    r("coinbase_key", near!("coinbase", r"([A-Za-z0-9]{16,64})\b")),
    // LLM and AI providers
    r(
        "openai_key",
        r"\b(sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,})",
    ),
    r(
        "openai_key",
        r"\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,})",
    ),
    r(
        "anthropic_key",
        r"\b(sk-ant-(?:api|admin|sid)\d{2}-[A-Za-z0-9_-]{80,})",
    ),
    r("groq_key", r"\b(gsk_[A-Za-z0-9]{48,56})\b"),
    r("huggingface_token", r"\b(hf_[A-Za-z0-9]{34,40})\b"),
    r("huggingface_token", r"\b(api_org_[A-Za-z0-9]{34})\b"),
    r("tavily_key", r"\b(tvly-(?:dev-|prod-)?[A-Za-z0-9]{32})\b"),
    r("firecrawl_key", r"\b(fc-[a-f0-9]{32})\b"),
    r("jina_key", r"\b(jina_[A-Za-z0-9_-]{50,})"),
    r("kagi_key", near!("kagi", r"([A-Za-z0-9_.-]{40,})")),
    r("replicate_token", r"\b(r8_[A-Za-z0-9]{37})\b"),
    r("perplexity_key", r"\b(pplx-[A-Za-z0-9]{48})\b"),
    r("xai_key", r"\b(xai-[A-Za-z0-9]{80})\b"),
    r("cohere_key", near!("cohere|co_api", r"([A-Za-z0-9]{40})\b")),
    r("mistral_key", near!("mistral", r"([A-Za-z0-9]{32})\b")),
    r(
        "langsmith_key",
        r"\b(lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10})\b",
    ),
    r("deepseek_key", near!("deepseek", r"(sk-[a-f0-9]{32})\b")),
    r("gemini_key", near!("gemini", r"(AIza[0-9A-Za-z_-]{35})")),
    // Monitoring, analytics, SaaS
    r(
        "newrelic_key",
        r"\b(NR(?:AK|AA|II|IQ|JS|RA)-[A-Za-z0-9_-]{19,32})",
    ),
    r("newrelic_key", r"\b([a-z0-9]{36}NRAL)\b"),
    r(
        "newrelic_key",
        near!(
            "new_?relic|nr_?license|x-license-key|x-insert-key|x-query-key",
            r"([A-Za-z0-9-]{32,40})\b"
        ),
    ),
    r("grafana_token", r"\b(glc_[A-Za-z0-9+/]{32,400}={0,2})"),
    r(
        "grafana_token",
        r"\b(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})\b",
    ),
    r("grafana_token", r"\b(eyJrIjoi[A-Za-z0-9+/=]{60,100})"),
    r(
        "datadog_key",
        near!(
            "datadog|dd_api_key|dd_app_key|dd-api-key",
            r"([a-f0-9]{32,40})\b"
        ),
    ),
    r(
        "dynatrace_token",
        r"\b(dt0[a-zA-Z]\d{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64})\b",
    ),
    r("sentry_token", r"\b(sntry[su]_[A-Za-z0-9+/=_-]{40,})"),
    r("sentry_dsn", r"(https://[a-f0-9]{32}@[a-z0-9.-]+/\d+)"),
    r("segment_key", r"\b(sgp_[A-Za-z0-9]{64})\b"),
    r("segment_key", near!("segment", r"([A-Za-z0-9]{32})\b")),
    r(
        "okta_token",
        r#"(?i:okta|ssws)[\s\S]{0,80}?["'\s=:](00[A-Za-z0-9_-]{40})\b"#,
    ),
    r(
        "auth0_secret",
        near!("auth0|client_?secret", r"([A-Za-z0-9_-]{64})\b"),
    ),
    r("auth0_token", near!("auth0", r"([A-Za-z0-9_-]{32,})")),
    r(
        "mapbox_token",
        r"\b((?:pk|sk|tk)\.eyJ1[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,})",
    ),
    r(
        "salesforce_token",
        r"\b(00[A-Za-z0-9]{13}![A-Za-z0-9_.]{80,120})",
    ),
    r(
        "salesforce_token",
        near!("salesforce|sfdc", r"([A-Za-z0-9]{24,})\b"),
    ),
    r("adobe_secret", r"\b(p8e-[A-Za-z0-9_-]{32})\b"),
    r("adobe_secret", near!("adobe", r"([a-f0-9]{32})\b")),
    r("dropbox_token", r"\b(sl\.[A-Za-z0-9_-]{130,})"),
    r("dropbox_token", near!("dropbox", r"([A-Za-z0-9_-]{43,64})")),
    r("nasa_key", near!("nasa", r"([A-Za-z0-9]{40})\b")),
    r(
        "nasa_key",
        r"api\.nasa\.gov/[^\s]*[?&]api_key=([A-Za-z0-9]{40})\b",
    ),
    r(
        "sauce_key",
        near!(
            "sauce",
            r"([a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})\b"
        ),
    ),
    r(
        "blynk_token",
        r"(?i:blynk\S{0,40}?)[/=:\x22' ]+([A-Za-z0-9_-]{32})\b",
    ),
    r("blynk_token", near!("blynk|auth", r"([A-Za-z0-9_-]{32})\b")),
    r(
        "particle_token",
        near!("particle|access_token", r"([a-f0-9]{40})\b"),
    ),
    r(
        "thingsboard_token",
        r"(?i:/api/v1/)([A-Za-z0-9]{20})/(?:telemetry|attributes|rpc|claim)",
    ),
    r(
        "thingsboard_token",
        near!("thingsboard|access_?token|-u", r"([A-Za-z0-9]{20})\b"),
    ),
    r("truenas_key", r"\b(\d{1,4}-[A-Za-z0-9]{60,70})\b"),
    r(
        "vmware_token",
        near!("vmware|vcenter|esxi", r"([A-Za-z0-9_-]{32,})"),
    ),
    r("gitalk_secret", near!("clientsecret", r"([a-f0-9]{40})\b")),
    r("appsync_key", r"\b(da2-[a-z0-9]{26})\b"),
    r("adafruit_key", r"\b(aio_[A-Za-z0-9]{28})\b"),
    r(
        "react_app_secret",
        r"(?i:REACT_APP_\w*(?:KEY|TOKEN|SECRET|PASS|PASSWORD|PWD|USER|USERNAME))\s*[=:]\s*['\x22]?([^\s'\x22#]{3,})",
    ),
    r(
        "django_secret_key",
        r"(?i:SECRET_KEY)\s*[=:]\s*['\x22]([^'\x22\s]{30,})['\x22]",
    ),
    // Password hashes and system credentials
    r("password_hash", r"(\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53})"),
    r(
        "password_hash",
        r"(\$(?:1|5|6|8|9|md5|apr1|sha1|y|gy|7)\$(?:rounds=\d+\$)?[^\s:$]{0,40}\$[./A-Za-z0-9]{20,})",
    ),
    r(
        "password_hash",
        r"(\$krb5(?:asrep|tgs|pa)\$\d+\$[^\s]{20,})",
    ),
    r(
        "vault_unseal_key",
        r"(?i:unseal\s+key\s*\d*\s*:|operator\s+unseal)\s+([A-Za-z0-9+/]{44})",
    ),
    r(
        "kubernetes_bootstrap_token",
        r"(?i:token-id:\s*)([a-z0-9]{6})\s*\n\s*(?i:token-secret:\s*)[a-z0-9]{16}",
    ),
    r(
        "gradle_credential",
        r#"credentials\s*\{\s*username\s+['"]([^'"]+)['"]\s*password\s+['"][^'"]+['"]"#,
    ),
    r(
        "network_credential",
        r#"NetworkCredential\(\s*"[^"]*"\s*,\s*"([^"]{3,})""#,
    ),
    r(
        "directory_credential",
        r#"DirectoryEntry\(\s*"[^"]*"\s*,\s*"[^"]*"\s*,\s*"([^"]{3,})""#,
    ),
    r(
        "config_secret",
        r#"(?i:key\s*=\s*"[^"]{0,40}(?:password|passwd|pwd|secret|token|apikey|api_key)[^"]{0,20}"\s+value\s*=\s*)"([^"]{4,})""#,
    ),
    r(
        "prose_password",
        r#"(?i:\bpassword\s+(?:for\s+[^\n]{1,40}?\s+)?is\s*:?\s*)["'`]([^"'`\s]{3,64})["'`]"#,
    ),
    r(
        "compared_secret",
        r#"(?i:(?:password|passwd|pwd|secret|token|api_?key)\s*(?:===|!==|==|!=)\s*)["']([^"']{3,64})["']"#,
    ),
    r(
        "vmware_credential",
        r"(?i:Connect-VIServer)[^\n]*?(?i:-password)\s+(\S+)",
    ),
    r("age_recipient", r"\b(age1[0-9a-z]{58})\b"),
    r(
        "password_hash",
        r"(\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{16,}\$[A-Za-z0-9+/]{20,})",
    ),
    r("password_hash", r"(\$(?:pbkdf2|scrypt)[-\w]*\$[^\s]{30,})"),
    r(
        "password_hash",
        r"(?i:\b[A-Za-z0-9_.-]{1,32}):((?:[a-f0-9]{32}):(?:[a-f0-9]{32})):::",
    ),
    r("password_hash", r"\b(\{SSHA?\}[A-Za-z0-9+/=]{20,})"),
    r(
        "krb5_keytab",
        r"(?i:krb5|kerberos)\S{0,40}\s{0,3}[:=]\s{0,3}([A-Za-z0-9+/]{40,}={0,2})",
    ),
    r(
        "psexec_credential",
        r"(?i:psexec)[^\n]{0,200}?\s-u\s+(\S{2,})",
    ),
    r(
        "netrc_password",
        r"(?i:machine)\s+\S+\s+(?:login\s+\S+\s+)?(?i:password)\s+(\S+)",
    ),
    r(
        "wireguard_key",
        r"(?i:PrivateKey|PresharedKey)\s*=\s*([A-Za-z0-9+/]{43}=)",
    ),
    r("age_secret_key", r"\b(AGE-SECRET-KEY-1[0-9A-Z]{58})\b"),
    r(
        "odbc_password",
        r"(?i:(?:server|data source|uid|user id|dsn|driver|host|database|initial catalog)\s*=[^;\n]*;(?:[^;\n]*;){0,8}?\s*(?:password|pwd)\s*=\s*)(\{[^}]{3,}\}|[^;'\x22\s{]{3,})",
    ),
    r(
        "http_basic_auth",
        r"(?i:authorization:\s*basic\s+)([A-Za-z0-9+/]{8,}={0,2})",
    ),
    r(
        "http_bearer_token",
        r"(?i:authorization:\s*bearer\s+)([A-Za-z0-9._~+/-]{8,}=*)",
    ),
    r("s3_presigned", r"[?&](?i:X-Amz-Signature)=([a-f0-9]{64})"),
];
