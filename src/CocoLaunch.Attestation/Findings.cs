namespace CocoLaunch.Attestation;

/// <summary>One check of a verification, by name ("signature", "policy.debug", …), passed or not, with what it saw.</summary>
public sealed record Finding(string Check, bool Passed, string Detail);

/// <summary>What a verification found; it passes when every finding does.</summary>
public sealed record VerificationResult(string Kind, IReadOnlyList<Finding> Findings)
{
    public bool Passed => Findings.All(f => f.Passed);

    public Finding? FirstFailure => Findings.FirstOrDefault(f => !f.Passed);
}

/// <summary>Evidence or a document that cannot be read at all (wrong size, unknown version, bad PEM): an input error.</summary>
public sealed class EvidenceFormatException(string message) : Exception(message);

/// <summary>
/// What the verifier of evidence requires beyond a valid signature chain. Null members are not checked.
/// </summary>
/// <param name="Measurements">Acceptable launch digests (MEASUREMENT or MRTD), lowercase hex.</param>
/// <param name="MinimumTcb">SNP: the lowest SPL per TCB component (bl, tee, snp, ucode), compared one by one.</param>
/// <param name="AllowedVmpls">SNP: the VMPLs a report may come from.</param>
/// <param name="ReportData">The 64 bytes the evidence must carry (a nonce, a key hash).</param>
/// <param name="Rtmrs">TDX: expected RTMR0–3 (null entries are not checked).</param>
/// <param name="AllowedTcbStatuses">TDX with Intel collateral: the TCB statuses accepted (null: UpToDate only).</param>
public sealed record EvidencePolicy(
    IReadOnlySet<string>? Measurements = null,
    bool AllowDebug = false,
    IReadOnlyDictionary<string, int>? MinimumTcb = null,
    IReadOnlySet<uint>? AllowedVmpls = null,
    byte[]? ReportData = null,
    IReadOnlyList<string?>? Rtmrs = null,
    DateTimeOffset? At = null,
    IReadOnlySet<string>? AllowedTcbStatuses = null);
