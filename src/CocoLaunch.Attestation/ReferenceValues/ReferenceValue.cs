using CocoLaunch.Abi.Measurement;

namespace CocoLaunch.Attestation.ReferenceValues;

/// <summary>A file the digest depends on, by role (firmware, vars, kernel, initrd, spec), with its SHA-256.</summary>
public sealed record ReferenceInput(string Role, string Path, string Sha256);

/// <summary>
/// The expected launch measurement of one spec, with everything it was computed from: the platform, the digest,
/// the inputs' hashes, the measurement profile, the guest configuration, and the ordered log of measured
/// operations (with content fingerprints) that lets <c>verify</c> name the first operation that differs.
/// </summary>
public sealed record ReferenceValue
{
    public required string Name { get; init; }

    public required string Platform { get; init; }

    /// <summary>MEASUREMENT (SNP), MRTD (TDX) or the SEV digest, lowercase hex.</summary>
    public required string Digest { get; init; }

    public IReadOnlyList<ReferenceInput> Inputs { get; init; } = [];

    public IReadOnlyDictionary<string, string> Profile { get; init; } = new Dictionary<string, string>();

    /// <summary>The guest configuration that shaped the digest or the evidence: vcpus, vcpuType, policy, attributes, …</summary>
    public IReadOnlyDictionary<string, string> Config { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// TDX: RTMR0–3 as the TD will report them where the launch decides its firmware's events, else as the emulated
    /// launch leaves them (zero until the guest extends them).
    /// </summary>
    public IReadOnlyList<string>? Rtmrs { get; init; }

    /// <summary>TDX: the firmware's RTMR events in log order, where the launch decides them; a CC event log must hold these.</summary>
    public IReadOnlyList<ReferenceEvent>? RtmrEvents { get; init; }

    public IReadOnlyList<MeasuredOperation>? Log { get; init; }
}

/// <summary>One expected event of a CC event log: its CC MR index (1 = RTMR0), type name and SHA-384 digest.</summary>
public sealed record ReferenceEvent(uint MrIndex, string Type, string Sha384);

/// <summary>A set of reference values, as <c>reference-values</c> writes it and <c>verify</c> reads it.</summary>
public sealed record ReferenceValueDocument(string ToolVersion, IReadOnlyList<ReferenceValue> References)
{
    public const string Format = "cocolaunch-reference-values";
    public const int FormatVersion = 1;
}
