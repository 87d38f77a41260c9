using CocoLaunch.Attestation.ReferenceValues;
using CocoLaunch.Formats.Tcg;

namespace CocoLaunch.Cli.Reports;

/// <summary>
/// RTMR events in one form for comparing them, wherever they come from (a predicted log, a guest's log, a reference
/// value): MR index, type name and SHA-384 digest in hex; and the first place two sequences part.
/// </summary>
internal static class RtmrEvents
{
    public static ReferenceEvent Of(LoggedEvent e) => new(e.MrIndex, TcgEventType.Name(e.Type), Convert.ToHexStringLower(e.Sha384));

    public static ReferenceEvent Of(CcEvent e) =>
        new(e.MrIndex, e.TypeName, e.Digest(TcgAlgorithm.Sha384) is { } d ? Convert.ToHexStringLower(d) : "(no sha384 digest)");

    /// <summary>The index of the first event that differs or that one sequence lacks; null when they are the same.</summary>
    public static int? FirstDifference(IReadOnlyList<ReferenceEvent> a, IReadOnlyList<ReferenceEvent> b)
    {
        for (int i = 0; i < Math.Max(a.Count, b.Count); i++)
        {
            if (i >= a.Count || i >= b.Count || a[i] != b[i])
            {
                return i;
            }
        }

        return null;
    }

    /// <summary>"MR1 EV_… digest", or "(end of log)" past the last event.</summary>
    public static string Describe(IReadOnlyList<ReferenceEvent> events, int i) =>
        i < events.Count ? Describe(events[i]) : "(end of log)";

    public static string Describe(ReferenceEvent e) => $"MR{e.MrIndex} {e.Type} {e.Sha384}";
}
