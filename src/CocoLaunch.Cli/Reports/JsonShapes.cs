using System.Text.Json.Serialization;

namespace CocoLaunch.Cli.Reports;

// The shapes of the verbs' JSON outputs, as records rather than anonymous types so that System.Text.Json's source
// generator (CliJson) can see them: NativeAOT has no reflection-based serializer. Property order is output order,
// and names are camelCased by CliJson, so the output is byte for byte what the anonymous types gave.

/// <summary>`measure --output-format json` of an SNP, SEV-ES or SEV spec.</summary>
internal sealed record SnpMeasureJson(string Platform, string Measurement, string VmmType, int Vcpus, string? VcpuSignature, string? GuestFeatures, string Policy, int MeasuredOperations);

/// <summary>`measure --output-format json` of a TDX spec.</summary>
internal sealed record TdxMeasureJson(
    string Platform,
    string Mrtd,
    TdxProfileJson Profile,
    string Attributes,
    string Xfam,
    string Mrconfigid,
    string Mrowner,
    string Mrownerconfig,
    long PageAdds,
    long MrExtends,
    long BytesHashed,
    string? Rtmr0,
    string? Rtmr1,
    string? Rtmr2,
    string? Rtmr3,
    string RtmrsNote,
    string[] Rtmrs,
    string RtmrNote,
    RtmrEventJson[] Rtmr0LaunchEvents,
    string Rtmr0AfterLaunchEvents,
    string Rtmr0Note);

/// <summary>`measure FILE.igvm --output-format json`; ZeroPages is null for TDX, where zero pages have no type of their own.</summary>
internal sealed record IgvmMeasureJson(string Platform, string Measurement, int Vcpus, string? ZeroPages, string CompatibilityMask, int Directives, int MeasuredOperations);

internal sealed record TdxProfileJson(string Order, string PageAug, string ShortSectionData);

internal sealed record RtmrEventJson(string Type, string Digest);

/// <summary>`verify --format json`.</summary>
internal sealed record VerifyJson(
    string Spec,
    string? Reference,
    string Platform,
    bool Match,
    string Expected,
    string Actual,
    string? Signer,
    bool SignerTrusted,
    DivergenceJson? FirstDivergence,
    RtmrMismatchJson? RtmrMismatch,
    IEnumerable<InputJson> Inputs);

internal sealed record DivergenceJson(int Operation, string Expected, string Actual);

internal sealed record RtmrMismatchJson(int Rtmr, string Expected, string Actual, string FirstEvent);

internal sealed record InputJson(string Role, string? Expected, string? Actual, bool Same);

/// <summary>`verify-evidence --format json`.</summary>
internal sealed record EvidenceJson(string Evidence, string Kind, bool Verified, IEnumerable<FindingJson> Findings);

internal sealed record FindingJson(string Check, bool Passed, string Detail);

/// <summary>`eventlog --format json`.</summary>
internal sealed record EventLogJson(
    string File,
    IEnumerable<string> Algorithms,
    IEnumerable<EventJson> Events,
    long Length,
    string? Rtmr0,
    string? Rtmr1,
    string? Rtmr2,
    string? Rtmr3);

internal sealed record EventJson(long Offset, uint MrIndex, string Type, uint TypeValue, IEnumerable<DigestJson> Digests, string Data, string EventData);

internal sealed record DigestJson(string Alg, string Digest);
