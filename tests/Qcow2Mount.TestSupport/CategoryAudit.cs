using System.Reflection;
using NUnit.Framework;
using NUnit.Framework.Interfaces;

namespace Qcow2Mount.TestSupport;

/// <summary>Finds the tests of an assembly that carry none of <see cref="TestCategories"/> (on the test or its fixture).</summary>
public static class CategoryAudit
{
    /// <summary>"Fixture.Test" for every test method without a known category, and "Fixture.Test: 'name'" for an unknown one.</summary>
    public static IReadOnlyList<string> Problems(Assembly testAssembly)
    {
        var problems = new List<string>();
        foreach (Type type in testAssembly.GetTypes().Where(t => t.IsClass && !t.IsAbstract))
        {
            foreach (MethodInfo method in type.GetMethods(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            {
                if (!method.GetCustomAttributes(inherit: true).Any(a => a is ITestBuilder or ISimpleTestBuilder))
                {
                    continue;
                }

                string[] categories = CategoriesOf(method).Concat(CategoriesOf(type)).ToArray();
                string name = $"{type.Name}.{method.Name}";
                if (!categories.Any(TestCategories.All.Contains))
                {
                    problems.Add(name);
                }

                problems.AddRange(categories.Where(c => !TestCategories.All.Contains(c)).Select(c => $"{name}: unknown category '{c}'"));
            }
        }

        return problems.Distinct().ToList();
    }

    private static IEnumerable<string> CategoriesOf(MemberInfo member) =>
        member.GetCustomAttributes<CategoryAttribute>(inherit: true).Select(c => c.Name);
}
