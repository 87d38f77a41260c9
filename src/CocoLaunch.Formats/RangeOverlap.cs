namespace CocoLaunch.Formats;

/// <summary>Finds overlapping GPA ranges among metadata sections.</summary>
internal static class RangeOverlap
{
    /// <summary>
    /// The first overlapping pair, as (earlier in the metadata, later in the metadata), or null.
    /// Reporting the later one lets the message point at the entry that broke an otherwise valid table.
    /// </summary>
    public static (T Earlier, T Later)? Find<T>(IEnumerable<T> items, Func<T, ulong> start, Func<T, ulong> end, Func<T, int> index)
    {
        var byStart = items.OrderBy(start).ToList();
        for (int i = 1; i < byStart.Count; i++)
        {
            var (a, b) = (byStart[i - 1], byStart[i]);
            if (end(a) > start(b))
            {
                return index(a) < index(b) ? (a, b) : (b, a);
            }
        }

        return null;
    }
}
